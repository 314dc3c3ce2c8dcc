"""Plain report data for the interop tests (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from alllab.analysis.summaries import Summary
from alllab.interop.report import ReportData, SlideResult

ISSUED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
COLLECTED = datetime(2026, 11, 28, 8, 30, 0, tzinfo=UTC)


def done_slide(slide_id: int = 11, **overrides) -> SlideResult:
    summary = overrides.pop(
        "summary",
        Summary(
            n_cells=40,
            n_blast=4,
            blast_fraction=0.1,
            blast_fraction_ci95=(0.0396, 0.2305),
            max_p_blast=0.9731,
            call="suspicious",
        ),  # fmt: skip
    )
    fields = {
        "slide_id": slide_id,
        "filename": "smear-1.png",
        "status": "done",
        "model_name": "hybrid-vgg",
        "model_version": "1.2.0",
        "summary": summary,
        "analysed_at": datetime(2026, 11, 29, 11, 0, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return SlideResult(**fields)


def report(**overrides) -> ReportData:
    fields = {
        "lab_slug": "north",
        "lab_name": "North Haematology",
        "case_id": 7,
        "accession_number": "ACC-0001",
        "patient_id": "PSN-42",
        "specimen_collected_at": COLLECTED,
        "status": "preliminary",
        "issued_at": ISSUED,
        "slides": (done_slide(),),
    }
    fields.update(overrides)
    return ReportData(**fields)
