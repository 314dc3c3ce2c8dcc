"""The slide gallery (smear with outlined cells, crops by probability, summary) and the cell images."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alllab.accounts.scope import scope_for_user
from alllab.analysis.models import AnalysisRun
from alllab.analysis.operating import p_band, p_bands, run_operating_point
from alllab.analysis.selectors import cell_get, cell_list, p_blast_histogram, run_current, run_list, runs_models
from alllab.analysis.summaries import summary_read
from alllab.cases.selectors import slide_get
from alllab.files import stored_file_response


@login_required
@require_GET
def slide_gallery_view(request: HttpRequest, slide_id: int) -> HttpResponse:
    slide = slide_get(scope=scope_for_user(request.user), slide_id=slide_id)
    runs = list(run_list(scope=scope_for_user(request.user), slide=slide))
    run = run_current(slide=slide)
    if "run" in request.GET:
        run = next((r for r in runs if str(r.id) == request.GET["run"]), None)
        if run is None:
            raise Http404("No such run of this slide")
    cells = (
        list(cell_list(scope=scope_for_user(request.user), run=run))
        if run is not None and run.status == AnalysisRun.Status.DONE
        else []
    )
    threshold = run_operating_point(run=run).cell_threshold
    for cell in cells:
        cell.band = p_band(cell.p_blast, threshold)
        cell.points = " ".join(f"{x},{y}" for x, y in cell.contour)
    context = {
        "slide": slide,
        "case": slide.case,
        "run": run,
        "runs": runs,
        "cells": cells,
        "summary": summary_read(obj=run) if run is not None and run.status == AnalysisRun.Status.DONE else None,
        "histogram": p_blast_histogram([c.p_blast for c in cells]),
        "models": runs_models(runs=[run] if run is not None else []),
        "scope": "slide",
        "cell_threshold": threshold,
        "p_bands": p_bands(threshold),
    }
    return render(request, "analysis/slide_gallery.html", context)


@login_required
@require_GET
def cell_crop_view(request: HttpRequest, cell_id: int) -> HttpResponse:
    return stored_file_response(
        cell_get(scope=scope_for_user(request.user), cell_id=cell_id).crop, content_type="image/png"
    )


@login_required
@require_GET
def cell_heatmap_view(request: HttpRequest, cell_id: int) -> HttpResponse:
    return stored_file_response(
        cell_get(scope=scope_for_user(request.user), cell_id=cell_id).heatmap, content_type="image/png"
    )
