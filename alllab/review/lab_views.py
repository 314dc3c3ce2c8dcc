"""Lab-admin pages of the review: model agreement per version, and the reviewed-cell dataset export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from alllab.accounts.models import ADMIN_ROLES
from alllab.accounts.scope import scope_for_user, scope_role_lab_ids
from alllab.accounts.selectors import lab_list
from alllab.review.agreement import agreement_by_model
from alllab.review.export import dataset_zip, exportable_reviews
from alllab.review.models import AuditEvent, ReviewLabel
from alllab.review.selectors import audit_for_labs
from alllab.review.services import audit_record


def _require_lab_admin(request: HttpRequest) -> list[int]:
    labs = scope_role_lab_ids(scope=scope_for_user(request.user), user=request.user, roles=ADMIN_ROLES)
    if not labs:
        raise PermissionDenied("Only lab admins see model agreement and export reviewed cells.")
    return labs


@login_required
@require_GET
def agreement_view(request: HttpRequest) -> HttpResponse:
    _require_lab_admin(request)
    context = {
        "agreements": agreement_by_model(scope=scope_for_user(request.user), user=request.user),
        "review_labels": ReviewLabel.choices,
        "labs": lab_list(user=request.user, roles=ADMIN_ROLES),
        "n_exportable": exportable_reviews(scope=scope_for_user(request.user), user=request.user).count(),
    }
    return render(request, "review/agreement.html", context)


@login_required
@require_GET
def lab_audit_view(request: HttpRequest) -> HttpResponse:
    """The lab-wide trail (latest 2000 events), sign-ins included, for lab admins."""
    _require_lab_admin(request)
    events = list(audit_for_labs(scope=scope_for_user(request.user), user=request.user)[:2000])
    return render(request, "review/lab_audit.html", {"events": events})


@login_required
@require_GET
def export_view(request: HttpRequest) -> HttpResponse:
    """The reviewed cells of the admin's labs (``?lab=<id>`` for one) as ``cells.zip``; recorded in the audit trail."""
    labs = _require_lab_admin(request)
    lab_id = request.GET.get("lab")
    try:
        lab_id = int(lab_id) if lab_id else None
    except ValueError:
        return HttpResponse("lab must be a lab id.", status=400, content_type="text/plain")
    if lab_id is not None and lab_id not in labs:
        raise PermissionDenied("You do not administer that lab.")
    data, n = dataset_zip(exportable_reviews(scope=scope_for_user(request.user), user=request.user, lab_id=lab_id))
    if n == 0:
        return HttpResponse("No reviewed white cells to export yet.", status=404, content_type="text/plain")
    for lab in [lab_id] if lab_id is not None else labs:
        audit_record(action=AuditEvent.Action.EXPORT, actor=request.user, lab_id=lab, detail={"n_cells": n})
    response = HttpResponse(data, content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="reviewed-cells-{stamp}.zip"'
    response["Cache-Control"] = "private, no-store"
    return response
