"""Cases: order entry (idempotent POST), list with filters, detail with slides and summary."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from alllab.accounts.models import Lab
from alllab.accounts.scope import Scope
from alllab.api.selectors import api_case_get, api_case_list, api_case_slides
from alllab.api.serializers import CaseCreateInputSerializer, CaseListQuerySerializer, ErrorSerializer
from alllab.api.services import OrderConflict, case_order_create
from alllab.api.views.common import ERR_400, ERR_404, ERR_AUTH, JSON, ApiView, CasePagination
from alllab.interop.representations import case_json
from alllab.interop.serializers import CaseDetailSerializer, CasePageSerializer, CaseSerializer

# The case model's names for what the API calls otherwise; errors name the field the client sent.
API_FIELD = {"patient_pseudonym": "patient_id", "specimen_date": "specimen_collected_at"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _lab_for_write(scope: Scope, slug: str) -> Lab:
    """The lab a new case goes to: the token's, or the one a signed-in user names (or their only writable lab)."""
    labs = Lab.objects.filter(pk__in=scope.write_lab_ids)
    if slug:
        lab = labs.filter(slug=slug).first()
        if lab is None:
            raise exceptions.ValidationError({"lab": ["You may not create cases in this lab."]}, code="invalid")
        return lab
    if len(scope.write_lab_ids) == 1:
        return labs.get()
    if not scope.write_lab_ids:
        raise exceptions.PermissionDenied("Only the lab's technicians and lab admins may create cases.")
    raise exceptions.ValidationError({"lab": ["You may write in several labs: name one."]}, code="required")


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        detail = {API_FIELD.get(k, k): list(v) for k, v in exc.message_dict.items()}
        detail["non_field_errors"] = detail.pop("__all__", [])
        if not detail["non_field_errors"]:
            del detail["non_field_errors"]
        return exceptions.ValidationError(detail)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


class CaseListCreateView(ApiView):
    """``GET`` lists the caller's cases; ``POST`` enters an order (creates a case, or returns the existing one)."""

    @extend_schema(
        operation_id="cases_list",
        parameters=[CaseListQuerySerializer],
        responses={200: CasePageSerializer, **ERR_400, **ERR_AUTH, **ERR_404},
        description="Cases of the caller's lab, oldest first, 50 a page. `updated_since` also catches cases whose "
        "slides were uploaded or analysed since then.",
    )
    def get(self, request: Request) -> Response:
        query = CaseListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = api_case_list(
            scope=self.scope(request),
            accession_number=query.validated_data["accession_number"],
            status=query.validated_data["status"],
            updated_since=query.validated_data["updated_since"],
        ).select_related("lab", "order")
        paginator = CasePagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        scope = self.scope(request)
        return paginator.get_paginated_response([CaseSerializer(case_json(c, scope=scope)).data for c in page])

    @extend_schema(
        operation_id="cases_create",
        request=CaseCreateInputSerializer,
        responses={
            201: OpenApiResponse(CaseSerializer, description="Created."),
            200: OpenApiResponse(CaseSerializer, description="This accession number already exists: that case."),
            (409, JSON): OpenApiResponse(
                ErrorSerializer, description="Accession number exists for another patient id."
            ),
            **ERR_400,
            **ERR_AUTH,
        },
        description="Idempotent order entry: sending the same accession number again returns the existing case "
        "with 200 and changes nothing.",
    )
    def post(self, request: Request) -> Response:
        data = CaseCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        scope = self.scope(request)
        lab = _lab_for_write(scope, v["lab"])
        if v["callback_url"] and scope.client is None:
            # The callback is signed with the client's token hash; a session has no token to sign with.
            raise exceptions.ValidationError({"callback_url": ["Callbacks need a token-authenticated client."]})
        try:
            case, created = case_order_create(
                scope=scope,
                lab=lab,
                user=request.user,
                accession_number=v["accession_number"],
                patient_id=v["patient_id"],
                specimen_date=v["specimen_collected_at"],
                clinical_notes=v["clinical_notes"],
                callback_url=v["callback_url"],
            )
        except OrderConflict as exc:
            raise Conflict(str(exc)) from exc
        except DjangoValidationError as exc:
            raise _validation_error(exc) from exc
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        case = api_case_get(scope=scope, case_id=case.pk)
        body = CaseSerializer(case_json(case, scope=scope)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CaseDetailView(ApiView):
    @extend_schema(
        operation_id="cases_retrieve",
        parameters=[OpenApiParameter("case_id", int, OpenApiParameter.PATH)],
        responses={200: CaseDetailSerializer, **ERR_AUTH, **ERR_404},
        description="One case with its slides (each with its current analysis) and the case-level summary.",
    )
    def get(self, request: Request, case_id: int) -> Response:
        scope = self.scope(request)
        case = api_case_get(scope=scope, case_id=case_id)
        slides = api_case_slides(scope=scope, case=case)
        return Response(CaseDetailSerializer(case_json(case, scope=scope, slides=slides)).data)
