"""Review pages: the case gallery with reclassification, the counts, sign-off and amendment, the audit trail, the PDF.

Views stay thin: reads through ``selectors`` (which check the lab), writes through ``services`` (which check the role).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from alllab.accounts.selectors import user_can_review
from alllab.cases.models import Case
from alllab.cases.selectors import case_get
from alllab.review.models import ReportVersion, ReviewLabel
from alllab.review.pdf import report_pdf
from alllab.review.selectors import (
    audit_for_case,
    gallery_groups,
    reclassifications_since,
    report_latest,
    report_versions,
    review_cells,
    review_counts,
    user_can_view_audit,
)
from alllab.review.services import case_amend, case_sign_off, cell_reclassify

# One key per class for the keyboard flow; the page shows them on the buttons.
LABEL_KEYS = {"blast": "b", "normal": "n", "other_wbc": "o", "artefact": "a", "unsure": "u"}


def _labels() -> list[dict]:
    return [{"value": v, "display": d, "key": LABEL_KEYS[v]} for v, d in ReviewLabel.choices]


def _counts_html(request: HttpRequest, case: Case, cells=None) -> str:
    counts = review_counts(case=case, cells=cells)
    return render_to_string("review/_counts.html", {"counts": counts, "case": case}, request=request)


def _render_review(request: HttpRequest, case: Case, *, form: dict | None = None, status: int = 200) -> HttpResponse:
    cells = list(review_cells(case=case))
    latest = report_latest(case=case)
    if form is None:  # the sign-off form starts from the latest version's interpretation
        form = {"interpretation": latest.interpretation, "text": latest.interpretation_text} if latest else {}
    context = {
        "case": case,
        "groups": gallery_groups(cells=cells),
        "n_cells": len(cells),
        "counts_html": _counts_html(request, case, cells),
        "labels": _labels(),
        "can_review": user_can_review(user=request.user, lab=case.lab),
        "can_view_audit": user_can_view_audit(user=request.user, lab_id=case.lab_id),
        "latest": latest,
        "versions": list(report_versions(case=case)),
        "changes_since_signed": reclassifications_since(case=case, version=latest),
        "interpretations": ReportVersion.Interpretation.choices,
        "label_keys": LABEL_KEYS,
        "form": form,
    }
    return render(request, "review/case_review.html", context, status=status)


@login_required
@require_GET
def case_review_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return _render_review(request, case_get(user=request.user, case_id=case_id))


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@login_required
@require_POST
def cell_reclassify_view(request: HttpRequest, case_id: int) -> JsonResponse:
    """``POST {"cells": [id, ...], "label": "blast"}`` (JSON, with the CSRF header): saves at once, returns the counts."""
    case = case_get(user=request.user, case_id=case_id)
    try:
        body = json.loads(request.body or b"{}")
        cell_ids = [int(i) for i in body.get("cells", [])]
        label = str(body.get("label", ""))
    except (ValueError, TypeError, AttributeError):
        return _json_error('Send JSON: {"cells": [cell ids], "label": "<class>"}.', 400)
    try:
        changed = cell_reclassify(user=request.user, case=case, cell_ids=cell_ids, label=label)
    except PermissionDenied as exc:
        return _json_error(str(exc), 403)
    except ValidationError as exc:
        return _json_error(" ".join(exc.messages), 400)
    latest = report_latest(case=case)
    return JsonResponse(
        {
            "label": label,
            "display": ReviewLabel(label).label,
            "cells": cell_ids,
            "changed": [r.cell_id for r in changed],
            "counts_html": _counts_html(request, case),
            "changes_since_signed": reclassifications_since(case=case, version=latest),
        }
    )


def _sign_or_amend(request: HttpRequest, case_id: int, *, amend: bool) -> HttpResponse:
    case = case_get(user=request.user, case_id=case_id)
    fields = {
        "interpretation": request.POST.get("interpretation", ""),
        "text": request.POST.get("text", ""),
    }
    reason = request.POST.get("reason", "")
    try:
        if amend:
            version = case_amend(user=request.user, case=case, reason=reason, **fields)
        else:
            version = case_sign_off(user=request.user, case=case, **fields)
    except ValidationError as exc:
        # Shown on the page again with what was typed, so a refused sign-off loses nothing.
        messages.error(request, " ".join(exc.messages))
        return _render_review(request, case, form={**fields, "reason": reason}, status=400)
    messages.success(request, f"Report version {version.number} signed ({version.get_kind_display().lower()}).")
    return redirect("review:case_review", case_id=case.id)


@login_required
@require_POST
def case_sign_off_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return _sign_or_amend(request, case_id, amend=False)


@login_required
@require_POST
def case_amend_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return _sign_or_amend(request, case_id, amend=True)


@login_required
@require_GET
def case_audit_view(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_get(user=request.user, case_id=case_id)
    if not user_can_view_audit(user=request.user, lab_id=case.lab_id):
        raise PermissionDenied("Only pathologists and lab admins of this lab may read its audit trail.")
    events = list(audit_for_case(user=request.user, case=case)[:2000])
    return render(request, "review/case_audit.html", {"case": case, "events": events})


@login_required
@require_GET
def case_report_pdf_view(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_get(user=request.user, case_id=case_id)
    return pdf_response(case)


def pdf_response(case: Case) -> HttpResponse:
    """The case's report as an ``application/pdf`` download (shared with the API view)."""
    response = HttpResponse(report_pdf(case=case), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="report-{case.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"  # patient data, and it changes on sign-off
    return response
