"""Cases, slides and cells as the plain dicts the API returns (see ``serializers`` for the typed shapes)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from alllab.accounts.scope import Scope
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.selectors import current_runs_for_case
from alllab.analysis.summaries import Summary, call_explanation, call_label, fraction_withheld, summary_read
from alllab.cases.models import Case, Slide
from alllab.review.selectors import model_identity, report_status, signed_result_get

AI_METHOD = "Automated image analysis (pre-classification by the model); not the reviewed result"


def case_json(
    case: Case, *, scope: Scope, slides: list[tuple[Slide, AnalysisRun | None]] | None = None
) -> dict[str, Any]:
    """A case read through the caller's ``scope``; with ``slides`` (the detail view) each slide and its current run
    are included."""
    order = getattr(case, "order", None)
    data: dict[str, Any] = {
        "id": case.pk,
        "lab": case.lab.slug,
        "accession_number": case.accession_number,
        "patient_id": case.patient_pseudonym,
        "specimen_collected_at": case.specimen_date,
        "clinical_notes": order.clinical_notes if order else "",
        "callback_url": order.callback_url if order else "",
        "status": case.status,
        "report_status": report_status(case=case),
        "n_slides": getattr(case, "n_slides", None) if slides is None else len(slides),
        "summary": summary_read(obj=case),  # the engine's Summary; SummarySerializer shapes it
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "links": {
            "self": reverse("api:case-detail", args=[case.pk]),
            "fhir": reverse("api:case-fhir", args=[case.pk]),
            "hl7": reverse("api:case-hl7", args=[case.pk]),
        },
    }
    if data["n_slides"] is None:
        data["n_slides"] = case.slides.count()
    signed = signed_result_get(case=case)
    # After sign-off the reviewed values are the result; the AI's travel beside them, marked as such.
    data["result"] = signed.to_json() if signed is not None else None
    runs = (
        [r for s, r in slides if r is not None] if slides is not None else current_runs_for_case(scope=scope, case=case)
    )
    data["pre_classification"] = pre_classification_json(data["summary"], runs)
    if slides is not None:
        data["slides"] = [slide_json(s, r) for s, r in slides]
    return data


def pre_classification_json(summary: Summary | None, runs: list[AnalysisRun]) -> dict[str, Any] | None:
    """The model's result over the case, named as the automated pre-classification, with the models that made it."""
    if summary is None:
        return None
    done = [r for r in runs if r.status == AnalysisRun.Status.DONE]
    models = {(m["name"], m["version"], m["sha256"]): m for m in (model_identity(r) for r in done)}
    data = {
        "source": "ai",
        "method": AI_METHOD,
        **summary.to_json(),
        "no_fraction_reason": _no_fraction_reason(summary),
        "call_label": call_label(summary.call),
        "call_explanation": call_explanation(summary.call),
        "models": list(models.values()),
    }
    if data["no_fraction_reason"]:
        data["blast_fraction"] = data["blast_fraction_ci95"] = None  # no number from too few cells (as FHIR, HL7)
    return data


def _no_fraction_reason(summary: Summary) -> str:
    """``too-few-cells`` when the blast fraction is not reported as a number (see ``fraction_withheld``), else ""."""
    withheld = fraction_withheld(n_cells=summary.n_cells, call=summary.call, flags=summary.flags)
    return "too-few-cells" if withheld else ""


def slide_json(slide: Slide, run: AnalysisRun | None) -> dict[str, Any]:
    """A slide with its current run's status and stored summary (nulls until the run is done).

    The summary's fields sit flat on the slide (the v1 shape LIS clients read), all taken from the run's one
    stored ``Summary``.
    """
    summary = summary_read(obj=run) if run is not None and run.status == AnalysisRun.Status.DONE else None
    withheld = summary is not None and bool(_no_fraction_reason(summary))
    return {
        "id": slide.pk,
        "case": slide.case_id,
        "original_filename": slide.original_filename,
        "size_bytes": slide.size_bytes,
        "sha256": slide.sha256,
        "width": slide.width,
        "height": slide.height,
        "uploaded_at": slide.uploaded_at,
        "run_id": run.pk if run else None,
        "status": run.status if run else AnalysisRun.Status.QUEUED,
        "progress": run.progress if run else 0.0,
        "error": run.error if run else "",
        "model_name": run.model_name if run else "",
        "model_version": run.model_version if run else "",
        "model_sha256": run.model_sha256 if run else "",
        "worker": run.worker if run else "",
        "n_cells": summary.n_cells if summary else None,
        "n_blast": summary.n_blast if summary else None,
        "blast_fraction": summary.blast_fraction if summary and not withheld else None,
        "blast_fraction_ci95": list(summary.blast_fraction_ci95) if summary and not withheld else None,
        "no_fraction_reason": _no_fraction_reason(summary) if summary else "",
        "max_p_blast": summary.max_p_blast if summary else None,
        "call": summary.call if summary else None,
        "call_label": call_label(summary.call) if summary else None,
        "call_explanation": call_explanation(summary.call) if summary else None,
        "lab_model": model_identity(run)["lab_model"] if run else None,
        "quality": (run.quality or {}) if run else {},
        "started_at": run.started_at if run else None,
        "finished_at": run.finished_at if run else None,
        "links": {
            "self": reverse("api:slide-detail", args=[slide.pk]),
            "cells": reverse("api:slide-cells", args=[slide.pk]),
        },
    }


def cell_json(cell: Cell) -> dict[str, Any]:
    """A cell; ``reviewed_label`` is the pathologist's label (``review.CellReview``), None until reviewed."""
    return {
        "id": cell.pk,
        "index": cell.index,
        "bbox": list(cell.bbox),
        "p_blast": cell.p_blast,
        "label": cell.ai_label,
        # A missing one-to-one raises RelatedObjectDoesNotExist, an AttributeError: getattr's default covers it.
        "reviewed_label": getattr(getattr(cell, "review", None), "label", None) or None,
        "crop_url": reverse("api:cell-crop", args=[cell.pk]),
    }
