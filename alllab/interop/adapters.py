"""Turn a stored case (with its slides and their current runs) into the plain ``ReportData`` the builders take."""

from __future__ import annotations

from django.utils import timezone

from alllab.analysis.models import AnalysisRun
from alllab.analysis.summaries import summary_read
from alllab.cases.models import Case, Slide
from alllab.interop.report import ReportData, SlideResult
from alllab.review.selectors import report_conclusion, report_status, signed_result_get


def _slide_result(slide: Slide, run: AnalysisRun | None) -> SlideResult:
    if run is None:
        return SlideResult(slide_id=slide.pk, filename=slide.original_filename, status="queued")
    return SlideResult(
        slide_id=slide.pk,
        filename=slide.original_filename,
        status=run.status,
        model_name=run.model_name,
        model_version=run.model_version,
        summary=summary_read(obj=run) if run.status == AnalysisRun.Status.DONE else None,
        error=run.error,
        analysed_at=run.finished_at,
        model_sha256=run.model_sha256,
        lab_model_id=run.lab_model_id,
        lab_model_kind=run.lab_model.kind if run.lab_model is not None else "",
    )


def report_data_for_case(*, case: Case, slides: list[tuple[Slide, AnalysisRun | None]]) -> ReportData:
    """Report data from the stored numbers only (nothing is recomputed), so FHIR, HL7 and pages agree.

    Args:
        case: A case the caller may see (the selector has checked its lab).
        slides: The case's slides with their current runs, from ``slides_with_current_run``.
    """
    return ReportData(
        lab_slug=case.lab.slug,
        lab_name=case.lab.name,
        case_id=case.pk,
        accession_number=case.accession_number,
        patient_id=case.patient_pseudonym,
        specimen_collected_at=case.specimen_date,
        status=report_status(case=case),  # type: ignore[arg-type]
        issued_at=timezone.now(),
        slides=tuple(_slide_result(s, r) for s, r in slides),
        conclusion=report_conclusion(case=case),
        case_summary=summary_read(obj=case),
        signed=signed_result_get(case=case),
    )
