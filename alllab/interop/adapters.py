"""Turn a stored case (with its slides and their current runs) into the plain ``ReportData`` the builders take."""

from __future__ import annotations

from django.utils import timezone

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case, Slide
from alllab.interop.report import REPORT_STATUSES, ReportData, SlideResult, SlideSummary


def report_status_for_case(case: Case) -> str:
    """preliminary until a pathologist signs off, then final; the review app may set ``report_status`` (amended)."""
    explicit = getattr(case, "report_status", None)
    if explicit in REPORT_STATUSES:
        return explicit
    from alllab.review.selectors import report_status  # sign-off state lives in the review app's report versions

    return report_status(case=case)


def _slide_result(slide: Slide, run: AnalysisRun | None) -> SlideResult:
    if run is None:
        return SlideResult(slide_id=slide.pk, filename=slide.original_filename, status="queued")
    summary = None
    if run.status == AnalysisRun.Status.DONE and run.n_cells is not None:
        summary = SlideSummary(
            n_cells=run.n_cells,
            n_blast=run.n_blast or 0,
            blast_fraction=run.blast_fraction or 0.0,
            blast_fraction_ci95=(run.blast_fraction_ci95_lo or 0.0, run.blast_fraction_ci95_hi or 0.0),
            max_p_blast=run.max_p_blast or 0.0,
            call=run.call,
        )
    return SlideResult(
        slide_id=slide.pk,
        filename=slide.original_filename,
        status=run.status,
        model_name=run.model_name,
        model_version=run.model_version,
        summary=summary,
        error=run.error,
        analysed_at=run.finished_at,
    )


def _signed_conclusion(case: Case) -> str:
    from alllab.review.selectors import report_conclusion  # the signed interpretation, empty before sign-off

    return report_conclusion(case=case)


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
        status=report_status_for_case(case),  # type: ignore[arg-type]
        issued_at=timezone.now(),
        slides=tuple(_slide_result(s, r) for s, r in slides),
        conclusion=getattr(case, "conclusion", "") or _signed_conclusion(case),
        case_summary=_case_summary(case),
    )


def _case_summary(case: Case) -> SlideSummary | None:
    """The case-level summary the analysis app stored (over every done slide), or None before one is done."""
    if case.n_cells is None or not case.call:
        return None
    return SlideSummary(
        n_cells=case.n_cells,
        n_blast=case.n_blast or 0,
        blast_fraction=case.blast_fraction or 0.0,
        blast_fraction_ci95=(case.blast_fraction_ci95_lo or 0.0, case.blast_fraction_ci95_hi or 0.0),
        max_p_blast=case.max_p_blast or 0.0,
        call=case.call,
    )
