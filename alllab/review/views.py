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

from alllab.accounts.scope import Scope, scope_for_user
from alllab.accounts.selectors import user_can_review
from alllab.cases.models import Case
from alllab.cases.selectors import case_get
from alllab.review.models import ReportVersion, ReviewLabel
from alllab.review.pdf import report_pdf
from alllab.review.selectors import (
    audit_for_case,
    display_name,
    reclassifications_since,
    report_latest,
    report_versions,
    review_cells,
    review_counts,
    review_label_of,
    user_can_view_audit,
)
from alllab.review.services import case_amend, case_sign_check, case_sign_off, cell_reclassify

# One key per class for the keyboard flow; the page shows them on the buttons (the digits 1-9 work too, in order).
LABEL_KEYS = {
    "blast": "b",
    "lymphocyte": "l",
    "neutrophil": "n",
    "monocyte": "m",
    "eosinophil": "e",
    "basophil": "k",
    "other_wbc": "o",
    "artefact": "a",
    "unsure": "u",
}


def _labels() -> list[dict]:
    return [{"value": v, "display": d, "key": LABEL_KEYS[v]} for v, d in ReviewLabel.choices]


def _counts_html(request: HttpRequest, case: Case, cells=None) -> str:
    counts = review_counts(scope=scope_for_user(request.user), case=case, cells=cells)
    return render_to_string("review/_counts.html", {"counts": counts, "case": case}, request=request)


def _annotate(cells: list) -> list:
    """Each cell with its reviewer's class and its display (empty while unreviewed), for the template."""
    labels = dict(ReviewLabel.choices)
    for cell in cells:
        cell.review_label = review_label_of(cell) or ""
        cell.review_display = labels.get(cell.review_label, "")
    return cells


def _confirmation(request: HttpRequest, case: Case, form: dict, *, amend: bool) -> dict:
    """What the confirmation step states: the interpretation and the reviewed numbers that will be signed."""
    counts = review_counts(scope=scope_for_user(request.user), case=case)
    summary = counts.reviewed_summary
    return {
        "counts": counts,
        "interpretation_display": dict(ReportVersion.Interpretation.choices).get(form.get("interpretation", ""), "?"),
        "blast_pct": 100.0 * summary.blast_fraction,
        "ci_pct": [100.0 * x for x in summary.blast_fraction_ci95],
        "signer": display_name(request.user),
        "action": request.path,
    }


def _render_review(
    request: HttpRequest, case: Case, *, form: dict | None = None, confirm: dict | None = None, status: int = 200
) -> HttpResponse:
    cells = _annotate(list(review_cells(scope=scope_for_user(request.user), case=case)))
    latest = report_latest(case=case)
    if form is None:  # the sign-off form starts from the latest version's interpretation
        form = {"interpretation": latest.interpretation, "text": latest.interpretation_text} if latest else {}
    n_reviewed = sum(1 for c in cells if c.review_label)
    context = {
        "case": case,
        "cells": cells,
        "n_cells": len(cells),
        "n_unreviewed": len(cells) - n_reviewed,
        "counts_html": _counts_html(request, case, cells),
        "labels": _labels(),
        "can_review": user_can_review(user=request.user, lab=case.lab),
        "can_view_audit": user_can_view_audit(
            scope=scope_for_user(request.user), user=request.user, lab_id=case.lab_id
        ),
        "latest": latest,
        "versions": list(report_versions(case=case)),
        "changes_since_signed": reclassifications_since(case=case, version=latest),
        "interpretations": ReportVersion.Interpretation.choices,
        "label_keys": LABEL_KEYS,
        "form": form,
        "confirm": confirm,
    }
    return render(request, "review/case_review.html", context, status=status)


@login_required
@require_GET
def case_review_view(request: HttpRequest, case_id: int) -> HttpResponse:
    return _render_review(request, case_get(scope=scope_for_user(request.user), case_id=case_id))


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@login_required
@require_POST
def cell_reclassify_view(request: HttpRequest, case_id: int) -> JsonResponse:
    """``POST {"cells": [id, ...], "label": "blast"}`` (JSON, with the CSRF header): saves at once, returns the counts."""
    scope = scope_for_user(request.user)
    case = case_get(scope=scope, case_id=case_id)
    try:
        body = json.loads(request.body or b"{}")
        cell_ids = [int(i) for i in body.get("cells", [])]
        label = str(body.get("label", ""))
    except (ValueError, TypeError, AttributeError):
        return _json_error('Send JSON: {"cells": [cell ids], "label": "<class>"}.', 400)
    try:
        changed = cell_reclassify(scope=scope, user=request.user, case=case, cell_ids=cell_ids, label=label)
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
    scope = scope_for_user(request.user)
    case = case_get(scope=scope, case_id=case_id)
    fields = {
        "interpretation": request.POST.get("interpretation", ""),
        "text": request.POST.get("text", ""),
    }
    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("confirmed") != "1":
            # The first press checks and shows what would be signed; only the second, confirmed one signs.
            case_sign_check(scope=scope, user=request.user, case=case, reason=reason, amend=amend, **fields)
            form = {**fields, "reason": reason}
            return _render_review(request, case, form=form, confirm=_confirmation(request, case, form, amend=amend))
        if amend:
            version = case_amend(scope=scope, user=request.user, case=case, reason=reason, **fields)
        else:
            version = case_sign_off(scope=scope, user=request.user, case=case, **fields)
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
    scope = scope_for_user(request.user)
    case = case_get(scope=scope, case_id=case_id)
    if not user_can_view_audit(scope=scope, user=request.user, lab_id=case.lab_id):
        raise PermissionDenied("Only pathologists and lab admins of this lab may read its audit trail.")
    events = list(audit_for_case(scope=scope, user=request.user, case=case)[:2000])
    return render(request, "review/case_audit.html", {"case": case, "events": events})


@login_required
@require_GET
def case_report_pdf_view(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_get(scope=scope_for_user(request.user), case_id=case_id)
    return pdf_response(scope_for_user(request.user), case)


def pdf_response(scope: Scope, case: Case) -> HttpResponse:
    """The case's report as an ``application/pdf`` download (shared with the API view)."""
    response = HttpResponse(report_pdf(scope=scope, case=case), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="report-{case.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"  # patient data, and it changes on sign-off
    return response
