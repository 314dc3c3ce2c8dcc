"""Reads of runs and cells, through the caller's ``Scope`` (the worker's own reads use ``accounts.scope.SYSTEM``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404

from alllab.accounts.scope import Scope
from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case, Slide

AnyUser = User | AnonymousUser


def current_runs_for_case(*, scope: Scope, case: Case) -> list[AnalysisRun]:
    """The current (latest) run of each slide of ``case`` that has one; none if the case is outside ``scope``."""
    latest: dict[int, AnalysisRun] = {}
    runs = scope.narrow(AnalysisRun.objects.filter(slide__case=case), "slide__case__lab_id")
    for run in runs.order_by("slide_id", "-created_at", "-id"):
        latest.setdefault(run.slide_id, run)
    return list(latest.values())


def slides_with_current_run(*, scope: Scope, case: Case) -> list[tuple[Slide, AnalysisRun | None]]:
    """Each slide of ``case`` (if in the scope's labs) with its current run, in upload order."""
    slides = list(scope.narrow(Slide.objects.filter(case=case), "case__lab_id"))
    runs = {r.slide_id: r for r in current_runs_for_case(scope=scope, case=case)}
    return [(s, runs.get(s.id)) for s in slides]


def run_current(*, slide: Slide) -> AnalysisRun | None:
    """A slide's current run: its latest."""
    return slide.runs.order_by("-created_at", "-id").first()


def run_list(*, scope: Scope, slide: Slide) -> QuerySet[AnalysisRun]:
    """Every run of a slide, newest first, if the slide is in the scope's labs."""
    return scope.narrow(AnalysisRun.objects.filter(slide=slide), "slide__case__lab_id")


def run_get(*, scope: Scope, run_id: int) -> AnalysisRun:
    """One run of the scope's labs; ``Http404`` otherwise."""
    runs = AnalysisRun.objects.select_related("slide", "slide__case", "slide__case__lab")
    try:
        return scope.narrow(runs, "slide__case__lab_id").get(pk=run_id)
    except (AnalysisRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No such analysis run") from None


def cell_list(*, scope: Scope, run: AnalysisRun) -> QuerySet[Cell]:
    """A run's cells, most likely blast first; none if the run is outside ``scope``."""
    return scope.narrow(Cell.objects.filter(run=run), "run__slide__case__lab_id").order_by("-p_blast", "index")


def cell_get(*, scope: Scope, cell_id: int) -> Cell:
    """One cell of the scope's labs; ``Http404`` otherwise."""
    try:
        return scope.narrow(Cell.objects.all(), "run__slide__case__lab_id").get(pk=cell_id)
    except (Cell.DoesNotExist, ValueError, TypeError):
        raise Http404("No such cell") from None


def p_blast_histogram(p_blasts: list[float], *, bins: int = 10) -> list[int]:
    """Counts of probabilities in ``bins`` equal bins over [0, 1] (1.0 falls in the last)."""
    counts = [0] * bins
    for p in p_blasts:
        counts[min(int(p * bins), bins - 1)] += 1
    return counts


@dataclass(frozen=True, order=True)
class RunModel:
    """The model that made a run, as the pages name it: what the worker loaded, and the lab's registered model."""

    name: str
    version: str
    sha256_short: str  # the first 12 hex of the weights' sha256; empty when the run did not record it
    lab_model: str  # the registered lab model's "name version (kind)"; empty for a run made before the registry


def runs_models(*, runs: Iterable[AnalysisRun]) -> list[RunModel]:
    """The distinct models of ``runs`` (that recorded one), sorted; one query for their registered lab models."""
    runs = [r for r in runs if r.model_name]
    prefetch_related_objects(runs, "lab_model")
    out = set()
    for r in runs:
        lm = r.lab_model
        registered = f"{lm.name} {lm.version} ({lm.get_kind_display().lower()})" if lm is not None else ""
        out.add(RunModel(r.model_name, r.model_version, r.model_sha256[:12], registered))
    return sorted(out)


def case_cells_summary_inputs(*, scope: Scope, case: Case) -> tuple[list[float], list[RunModel]]:
    """The p_blast of every cell of the case's finished current runs, and the models they used."""
    done = [r for r in current_runs_for_case(scope=scope, case=case) if r.status == AnalysisRun.Status.DONE]
    p_blasts = list(Cell.objects.filter(run__in=done).values_list("p_blast", flat=True))
    return p_blasts, runs_models(runs=done)
