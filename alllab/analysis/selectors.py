"""Reads of runs and cells, through the user's labs (the run and cell lookups that serve images check them too)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from alllab.accounts.selectors import lab_ids_for_user
from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case, Slide

AnyUser = AbstractBaseUser | AnonymousUser


def current_runs_for_case(*, case: Case) -> list[AnalysisRun]:
    """The current (latest) run of each slide of ``case`` that has one. Internal: callers have checked the lab."""
    latest: dict[int, AnalysisRun] = {}
    for run in AnalysisRun.objects.filter(slide__case=case).order_by("slide_id", "-created_at", "-id"):
        latest.setdefault(run.slide_id, run)
    return list(latest.values())


def slides_with_current_run(*, user: AnyUser, case: Case) -> list[tuple[Slide, AnalysisRun | None]]:
    """Each slide of ``case`` (if in the user's labs) with its current run, in upload order."""
    slides = list(Slide.objects.filter(case=case, case__lab_id__in=lab_ids_for_user(user=user)))
    runs = {r.slide_id: r for r in current_runs_for_case(case=case)}
    return [(s, runs.get(s.id)) for s in slides]


def run_current(*, slide: Slide) -> AnalysisRun | None:
    """A slide's current run: its latest."""
    return slide.runs.order_by("-created_at", "-id").first()


def run_list(*, user: AnyUser, slide: Slide) -> QuerySet[AnalysisRun]:
    """Every run of a slide, newest first, if the slide is in the user's labs."""
    return AnalysisRun.objects.filter(slide=slide, slide__case__lab_id__in=lab_ids_for_user(user=user))


def run_get(*, user: AnyUser, run_id: int) -> AnalysisRun:
    """One run of the user's labs; ``Http404`` otherwise."""
    try:
        return AnalysisRun.objects.select_related("slide", "slide__case", "slide__case__lab").get(
            pk=run_id, slide__case__lab_id__in=lab_ids_for_user(user=user)
        )
    except (AnalysisRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No such analysis run") from None


def cell_list(*, run: AnalysisRun) -> QuerySet[Cell]:
    """A run's cells, most likely blast first. Take the run from :func:`run_get`, which checked the lab."""
    return Cell.objects.filter(run=run).order_by("-p_blast", "index")


def cell_get(*, user: AnyUser, cell_id: int) -> Cell:
    """One cell of the user's labs; ``Http404`` otherwise."""
    try:
        return Cell.objects.get(pk=cell_id, run__slide__case__lab_id__in=lab_ids_for_user(user=user))
    except (Cell.DoesNotExist, ValueError, TypeError):
        raise Http404("No such cell") from None


def p_blast_histogram(p_blasts: list[float], *, bins: int = 10) -> list[int]:
    """Counts of probabilities in ``bins`` equal bins over [0, 1] (1.0 falls in the last)."""
    counts = [0] * bins
    for p in p_blasts:
        counts[min(int(p * bins), bins - 1)] += 1
    return counts


def case_cells_summary_inputs(*, case: Case) -> tuple[list[float], list[tuple[str, str]]]:
    """The p_blast of every cell of the case's finished current runs, and the (model, version) pairs they used."""
    done = [r for r in current_runs_for_case(case=case) if r.status == AnalysisRun.Status.DONE]
    p_blasts = list(Cell.objects.filter(run__in=done).values_list("p_blast", flat=True))
    models = sorted({(r.model_name, r.model_version) for r in done})
    return p_blasts, models
