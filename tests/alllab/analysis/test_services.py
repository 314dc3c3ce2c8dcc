"""Running an analysis: claim once, store cells and crops once, fail bad images with a reason, summarise the case."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.services import run_claim, run_execute
from alllab.cases.models import Case
from inference.summary import summarize
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, SlideFactory
from tests.alllab.stubs import StubPredictor


@pytest.fixture
def run(lab, technician):
    return AnalysisRunFactory(slide__case__lab=lab, slide__case__created_by=technician)


def test_it_stores_cells_crops_and_summary(run):
    done = run_execute(run_id=run.id, predictor=StubPredictor([0.9, 0.2, 0.1]))
    assert done.status == AnalysisRun.Status.DONE and done.progress == 1.0
    assert (done.n_cells, done.n_blast, done.call) == (3, 1, "suspicious")
    assert (done.model_name, done.model_version) == ("stub", "0.0-test")
    cells = list(done.cells.order_by("index"))
    assert [c.crop.name for c in cells] == [f"runs/{run.id}/cell_{i}.png" for i in range(3)]
    assert all(c.heatmap.name == f"runs/{run.id}/heatmap_{c.index}.png" for c in cells)
    assert [c.ai_label for c in cells] == ["blast", "non_blast", "non_blast"]
    assert cells[0].contour == [[4, 4], [14, 4], [14, 14], [4, 14]]
    with cells[0].crop.open("rb") as fh:
        assert fh.read(4) == b"\x89PNG"
    done.slide.refresh_from_db()
    # stored for people, not the classifier's 16 px input: at least 256 px, the heatmap laid over the same size
    from PIL import Image

    with cells[0].crop.open("rb") as fh, cells[0].heatmap.open("rb") as fh2:
        assert Image.open(fh).size == Image.open(fh2).size == (256, 256)
    assert (done.slide.width, done.slide.height) == (160, 120) and done.slide.preview.name.endswith(".jpg")


def test_it_does_nothing_when_delivered_twice(run):
    predictor = StubPredictor()
    run_execute(run_id=run.id, predictor=predictor)
    assert run_execute(run_id=run.id, predictor=predictor) is None
    assert predictor.calls == 1 and Cell.objects.filter(run=run).count() == 3


def test_it_rewrites_cells_when_a_dead_workers_run_is_reclaimed(run, settings):
    run_execute(run_id=run.id, predictor=StubPredictor([0.9, 0.2, 0.1]))
    # The worker died after storing but before the row said done: the run is stale and claimable again.
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    AnalysisRun.objects.filter(pk=run.id).update(status=AnalysisRun.Status.RUNNING, started_at=stale)
    run_execute(run_id=run.id, predictor=StubPredictor([0.3, 0.8]))
    assert sorted(Cell.objects.filter(run=run).values_list("p_blast", flat=True)) == [0.3, 0.8]
    assert sorted(Cell.objects.filter(run=run).values_list("crop", flat=True)) == [
        f"runs/{run.id}/cell_0.png",
        f"runs/{run.id}/cell_1.png",
    ]


def test_it_lets_only_one_worker_claim_a_run(run):
    assert run_claim(run_id=run.id, worker="celery@a").worker == "celery@a"
    assert run_claim(run_id=run.id, worker="celery@b") is None  # a fresh "running" run is someone else's
    run.refresh_from_db()
    assert run.worker == "celery@a"


def test_it_fails_a_non_image_with_a_reason_and_keeps_the_case(lab, technician):
    slide = SlideFactory(
        case__lab=lab, image=ContentFile(b"%PDF-1.4 not a smear", name="x.pdf"), original_filename="report.pdf"
    )
    good = AnalysisRunFactory(slide__case=slide.case)
    bad = AnalysisRunFactory(slide=slide)
    run_execute(run_id=good.id, predictor=StubPredictor())
    failed = run_execute(run_id=bad.id, predictor=StubPredictor())
    assert failed.status == AnalysisRun.Status.FAILED
    assert failed.error.startswith("report.pdf: ") and len(failed.error) > len("report.pdf: ")
    assert not failed.cells.exists()
    case = Case.objects.get(pk=slide.case_id)
    assert case.slides.count() == 2
    assert case.status == Case.Status.AWAITING_REVIEW and case.n_cells == 3  # the good slide's result stands


def test_it_summarises_a_case_over_every_slides_current_run(lab):
    case = CaseFactory(lab=lab)
    first = AnalysisRunFactory(slide__case=case)
    second = AnalysisRunFactory(slide__case=case)
    run_execute(run_id=first.id, predictor=StubPredictor([0.9, 0.6]))
    case.refresh_from_db()
    assert case.status == Case.Status.ANALYSING  # the second slide is still queued
    run_execute(run_id=second.id, predictor=StubPredictor([0.1, 0.2, 0.3]))
    case.refresh_from_db()
    expected = summarize([0.9, 0.6, 0.1, 0.2, 0.3])
    assert case.status == Case.Status.AWAITING_REVIEW
    assert (case.n_cells, case.n_blast, case.call) == (expected.n_cells, expected.n_blast, expected.call)
    assert case.blast_fraction_ci95_lo == pytest.approx(expected.blast_fraction_ci95[0])


def test_it_uses_the_latest_run_as_the_slides_result(lab):
    first = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=first.id, predictor=StubPredictor([0.9, 0.9, 0.9]))
    rerun = AnalysisRunFactory(slide=first.slide)
    run_execute(run_id=rerun.id, predictor=StubPredictor([0.1] * 100))  # 100 cells: enough for a negative
    case = Case.objects.get(pk=first.slide.case_id)
    assert case.call == "negative" and case.n_blast == 0
    assert AnalysisRun.objects.filter(slide=first.slide).count() == 2  # the old run is kept
