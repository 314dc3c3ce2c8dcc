"""Cases, slides and cells as the plain dicts the API returns (see ``serializers`` for the typed shapes)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case, Slide
from alllab.interop.adapters import report_status_for_case


def _ci(lo: float | None, hi: float | None) -> list[float] | None:
    return None if lo is None or hi is None else [lo, hi]


def case_summary_json(case: Case) -> dict[str, Any] | None:
    """The stored case-level summary, or None before any slide is done."""
    if case.n_cells is None or not case.call:
        return None
    return {
        "n_cells": case.n_cells,
        "n_blast": case.n_blast or 0,
        "blast_fraction": case.blast_fraction or 0.0,
        "blast_fraction_ci95": _ci(case.blast_fraction_ci95_lo, case.blast_fraction_ci95_hi) or [0.0, 1.0],
        "max_p_blast": case.max_p_blast or 0.0,
        "call": case.call,
    }


def case_json(case: Case, *, slides: list[tuple[Slide, AnalysisRun | None]] | None = None) -> dict[str, Any]:
    """A case; with ``slides`` (the detail view) each slide and its current run are included."""
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
        "report_status": report_status_for_case(case),
        "n_slides": getattr(case, "n_slides", None) if slides is None else len(slides),
        "summary": case_summary_json(case),
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
    if slides is not None:
        data["slides"] = [slide_json(s, r) for s, r in slides]
    return data


def slide_json(slide: Slide, run: AnalysisRun | None) -> dict[str, Any]:
    """A slide with its current run's status and stored summary (nulls until the run is done)."""
    done = run is not None and run.status == AnalysisRun.Status.DONE
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
        "n_cells": run.n_cells if done else None,
        "n_blast": run.n_blast if done else None,
        "blast_fraction": run.blast_fraction if done else None,
        "blast_fraction_ci95": _ci(run.blast_fraction_ci95_lo, run.blast_fraction_ci95_hi) if done else None,
        "max_p_blast": run.max_p_blast if done else None,
        "call": (run.call or None) if done else None,
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
