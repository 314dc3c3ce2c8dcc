"""Lab models, read-only: the caller's labs' model versions and which one is active (issue 14).

What a LIS or an auditor needs to tie a result to the model that made it: version, sha256, status, when and by whom
it was activated, and its held-out comparison with its base. The training cells themselves are not exposed here.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from alllab.accounts.models import Lab
from alllab.api.views.common import ERR_404, ERR_AUTH, ApiView
from alllab.labmodels.models import LabModel
from alllab.labmodels.selectors import lab_model_list


class LabModelSerializer(serializers.ModelSerializer):
    """One registered model of a lab."""

    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base = serializers.PrimaryKeyRelatedField(read_only=True)
    activated_by = serializers.StringRelatedField()
    created_by = serializers.StringRelatedField()
    gate_passed = serializers.BooleanField(read_only=True)
    heldout = serializers.SerializerMethodField()

    class Meta:
        model = LabModel
        fields = [
            "id",
            "lab",
            "kind",
            "status",
            "name",
            "version",
            "sha256",
            "base",
            "n_train_cells",
            "n_train_cases",
            "n_heldout_cells",
            "n_heldout_cases",
            "gate_passed",
            "heldout",
            "created_by",
            "created_at",
            "activated_by",
            "activated_at",
        ]
        read_only_fields = fields

    def get_heldout(self, model: LabModel) -> dict | None:
        """Base and candidate AUROC, sensitivity and specificity on the held-out cells, with 95% intervals."""
        evaluation = model.evaluation or {}
        if not evaluation.get("base"):
            return None
        keys = ("auroc", "sensitivity", "specificity")
        return {
            side: {k: evaluation[side].get(k) for k in keys}
            | {f"{k}_ci95": evaluation[side].get(f"{k}_ci95") for k in keys}
            for side in ("base", "candidate")
        } | {"n_cells": evaluation.get("n_cells"), "n_cases": evaluation.get("n_cases")}


class ActiveModelSerializer(serializers.Serializer):
    """A lab's active model; ``model`` is null while the lab analyses with the shipped model, not yet registered."""

    lab = serializers.CharField()
    model = LabModelSerializer(allow_null=True)


class LabModelListView(ApiView):
    @extend_schema(
        operation_id="models_list",
        responses={200: LabModelSerializer(many=True), **ERR_AUTH},
        description="Every model version of the caller's labs (a LIS token: its one lab), newest first.",
    )
    def get(self, request: Request) -> Response:
        models = lab_model_list(scope=self.scope(request))
        return Response(LabModelSerializer(models, many=True).data)


class LabModelActiveView(ApiView):
    @extend_schema(
        operation_id="models_active",
        responses={200: ActiveModelSerializer(many=True), **ERR_AUTH},
        description="The model each of the caller's labs analyses new slides with.",
    )
    def get(self, request: Request) -> Response:
        scope = self.scope(request)
        active = {m.lab_id: m for m in lab_model_list(scope=scope).filter(status=LabModel.Status.ACTIVE)}
        rows = [
            {"lab": lab.slug, "model": LabModelSerializer(active[lab.pk]).data if lab.pk in active else None}
            for lab in Lab.objects.filter(pk__in=scope.lab_ids)
        ]
        return Response(rows)


class LabModelDetailView(ApiView):
    @extend_schema(
        operation_id="models_retrieve",
        parameters=[OpenApiParameter("model_id", int, OpenApiParameter.PATH)],
        responses={200: LabModelSerializer, **ERR_AUTH, **ERR_404},
        description="One model version; another lab's id answers 404, like an id that does not exist.",
    )
    def get(self, request: Request, model_id: int) -> Response:
        try:
            model = lab_model_list(scope=self.scope(request)).get(pk=model_id)
        except LabModel.DoesNotExist:
            raise Http404("No such model.") from None
        return Response(LabModelSerializer(model).data)
