"""Case pages: list and search, create, the case page with uploads and live slide status, the smear image.

In the dashboard, above every app, because a case page shows what several apps hold (the case, its runs, the
review); ``alllab.cases`` keeps the models, selectors and services these pages call.
"""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from alllab.accounts.models import CASE_WRITE_ROLES
from alllab.accounts.scope import Scope, scope_for_user
from alllab.accounts.selectors import lab_list, user_can_review
from alllab.analysis.intake import slide_create
from alllab.analysis.models import AnalysisRun
from alllab.analysis.operating import runs_cell_threshold
from alllab.analysis.selectors import (
    case_cells_summary_inputs,
    current_runs_for_case,
    p_blast_histogram,
    slides_with_current_run,
)
from alllab.analysis.summaries import call_explanation, call_label, summary_read
from alllab.cases.forms import CaseCreateForm, CaseFilterForm
from alllab.cases.models import Case
from alllab.cases.selectors import case_accepts_slides, case_get, case_list, case_signed_upload_message, slide_get
from alllab.cases.services import case_create
from alllab.files import stored_file_response


@login_required
@require_GET
def case_list_view(request: HttpRequest) -> HttpResponse:
    filters = CaseFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    cases = case_list(
        scope=scope_for_user(request.user),
        search=data.get("q", ""),
        status=data.get("status", ""),
        call=data.get("call", ""),
    )
    page = Paginator(cases, 25).get_page(request.GET.get("page"))
    can_create = lab_list(user=request.user, roles=CASE_WRITE_ROLES).exists()
    return render(request, "cases/case_list.html", {"page": page, "filters": filters, "can_create": can_create})


@login_required
def case_create_view(request: HttpRequest) -> HttpResponse:
    labs = lab_list(user=request.user, roles=CASE_WRITE_ROLES)
    if not labs.exists():
        raise PermissionDenied("Only technicians and lab admins create cases.")
    form = CaseCreateForm(request.POST or None, labs=labs)
    if request.method == "POST" and form.is_valid():
        try:
            case = case_create(scope=scope_for_user(request.user), created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("case_detail", case_id=case.id)
    return render(request, "cases/case_create.html", {"form": form})


def _case_summary_context(scope: Scope, case: Case) -> dict:
    p_blasts, models = case_cells_summary_inputs(scope=scope, case=case)
    done = [r for r in current_runs_for_case(scope=scope, case=case) if r.status == AnalysisRun.Status.DONE]
    return {
        "cell_threshold": runs_cell_threshold(runs=done),
        "summary": summary_read(obj=case),
        "histogram": p_blast_histogram(p_blasts),
        "models": models,
        "scope": "case",
    }


def _slide_status(slide, run) -> dict:
    summary = summary_read(obj=run) if run else None
    return {
        "id": slide.id,
        "name": slide.original_filename,
        "status": run.status if run else "none",
        "status_label": run.get_status_display() if run else "Not analysed",
        "progress": round(run.progress, 3) if run else 0.0,
        "error": run.error if run else "",
        "n_cells": summary.n_cells if summary else None,
        "n_blast": summary.n_blast if summary else None,
        "call": summary.call if summary else "",
        "call_label": call_label(summary.call) if summary else "",
        "call_explanation": call_explanation(summary.call) if summary else "",
        "gallery_url": reverse("slide_gallery", args=[slide.id]),
        # the worker writes the JPEG preview the thumbnail is cut from; before that there is none
        "thumb_url": reverse("slide_thumb", args=[slide.id]) if slide.preview else "",
    }


@login_required
@require_GET
def case_detail_view(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_get(scope=scope_for_user(request.user), case_id=case_id)
    slides = [_slide_status(s, r) for s, r in slides_with_current_run(scope=scope_for_user(request.user), case=case)]
    context = {
        "case": case,
        "slides": slides,
        "can_upload": scope_for_user(request.user).can_write(case.lab_id) and case_accepts_slides(case=case),
        "signed_upload_message": "" if case_accepts_slides(case=case) else case_signed_upload_message(case=case),
        "can_review": user_can_review(user=request.user, lab=case.lab),
        **_case_summary_context(scope_for_user(request.user), case),
    }
    return render(request, "cases/case_detail.html", context)


@login_required
@require_GET
def case_status_view(request: HttpRequest, case_id: int) -> JsonResponse:
    """What the case page polls: each slide's status and progress, and the case summary as an HTML fragment."""
    case = case_get(scope=scope_for_user(request.user), case_id=case_id)
    slides = [_slide_status(s, r) for s, r in slides_with_current_run(scope=scope_for_user(request.user), case=case)]
    summary_html = render_to_string(
        "analysis/_summary.html", _case_summary_context(scope_for_user(request.user), case), request=request
    )
    return JsonResponse(
        {
            "case": {"id": case.id, "status": case.status, "status_label": case.get_status_display()},
            "slides": slides,
            "summary_html": summary_html,
        }
    )


@login_required
@require_POST
def slide_upload_view(request: HttpRequest, case_id: int) -> JsonResponse:
    """One file per request (the page sends one XHR per file, each with its own progress bar)."""
    case = case_get(scope=scope_for_user(request.user), case_id=case_id)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return JsonResponse({"error": "No file in the request (field name: file)."}, status=400)
    try:
        slide = slide_create(
            scope=scope_for_user(request.user), case=case, uploaded_file=uploaded, uploaded_by=request.user
        )
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except ValidationError as exc:
        # UploadRejected carries its status (413 too large, 415 not an image) and a one-word code.
        body = {"error": " ".join(exc.messages), "code": getattr(exc, "code", None) or "invalid"}
        return JsonResponse(body, status=getattr(exc, "status", 400))
    return JsonResponse({"slide": {"id": slide.id, "name": slide.original_filename}}, status=201)


@login_required
@require_GET
def slide_image_view(request: HttpRequest, slide_id: int) -> HttpResponse:
    """The smear as browsers can show it: the worker's JPEG preview, else the upload itself."""
    slide = slide_get(scope=scope_for_user(request.user), slide_id=slide_id)
    return stored_file_response(slide.preview or slide.image)


THUMB_PX = (160, 120)


@login_required
@require_GET
def slide_thumb_view(request: HttpRequest, slide_id: int) -> HttpResponse:
    """A small JPEG of the smear for the slide table, cut from the worker's preview (JPEG draft mode: fast)."""
    slide = slide_get(scope=scope_for_user(request.user), slide_id=slide_id)
    if not slide.preview:
        raise Http404("No preview yet")
    try:
        with slide.preview.open("rb") as handle, Image.open(handle) as img:
            img.draft("RGB", (THUMB_PX[0] * 2, THUMB_PX[1] * 2))  # decode at 1/2..1/8 scale, not full size
            img = img.convert("RGB")
            img.thumbnail(THUMB_PX)
            out = io.BytesIO()
            img.save(out, format="JPEG", quality=80)
    except FileNotFoundError:
        raise Http404("Preview missing from storage") from None
    response = HttpResponse(out.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"  # patient data: browsers only, never shared caches
    response["X-Content-Type-Options"] = "nosniff"
    return response
