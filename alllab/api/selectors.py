"""Reads for the API: the cases and analysis selectors under the caller's ``Scope`` (a token sees its one lab only).

The scope is the whole check: the selectors below it filter by it, so nothing here re-checks a lab.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from alllab.accounts.scope import Scope
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.selectors import cell_get, cell_list, run_current, slides_with_current_run
from alllab.cases.models import Case, Slide
from alllab.cases.selectors import case_get, case_list, slide_get


def api_case_list(
    *,
    scope: Scope,
    accession_number: str = "",
    status: str = "",
    updated_since: dt.datetime | None = None,
) -> QuerySet[Case]:
    """The caller's cases, oldest first (stable pages for a LIS that syncs), optionally filtered.

    ``updated_since`` also catches cases whose slides were uploaded or whose analyses started or finished since then,
    because the stored case summary is written with ``UPDATE`` and does not move ``updated_at``.
    """
    qs = case_list(scope=scope, status=status)
    if accession_number:
        qs = qs.filter(accession_number=accession_number)
    if updated_since is not None:
        changed = Case.objects.filter(
            Q(updated_at__gte=updated_since)
            | Q(slides__uploaded_at__gte=updated_since)
            | Q(slides__runs__started_at__gte=updated_since)
            | Q(slides__runs__finished_at__gte=updated_since)
        ).values("pk")
        qs = qs.filter(pk__in=changed)
    return qs.order_by("id")


def api_case_get(*, scope: Scope, case_id: int) -> Case:
    """One case in the caller's scope; ``Http404`` for any other, so another lab's case looks like no case."""
    return case_get(scope=scope, case_id=case_id)


def api_case_by_accession(*, scope: Scope, lab_id: int, accession_number: str) -> Case | None:
    """The case with this accession number in ``lab_id``, if the scope sees that lab."""
    return case_list(scope=scope, lab_id=lab_id).filter(accession_number=accession_number.strip()).first()


def api_case_slides(*, scope: Scope, case: Case) -> list[tuple[Slide, AnalysisRun | None]]:
    """A case's slides, in upload order, each with its current run."""
    return slides_with_current_run(scope=scope, case=case)


def api_slide_get(*, scope: Scope, slide_id: int) -> tuple[Slide, AnalysisRun | None]:
    """One slide in the caller's scope with its current run; ``Http404`` otherwise."""
    slide = slide_get(scope=scope, slide_id=slide_id)
    return slide, run_current(slide=slide)


def api_slide_cells(*, scope: Scope, run: AnalysisRun | None) -> QuerySet[Cell]:
    """The cells of a slide's current run, most likely blast first; none before the run has stored any."""
    if run is None:
        return Cell.objects.none()
    qs = cell_list(scope=scope, run=run)
    if any(rel.name == "review" for rel in Cell._meta.related_objects):
        qs = qs.select_related("review")  # the review app's CellReview: one query, not one per cell
    return qs


def api_cell_get(*, scope: Scope, cell_id: int) -> Cell:
    """One cell in the caller's scope; ``Http404`` otherwise."""
    return cell_get(scope=scope, cell_id=cell_id)
