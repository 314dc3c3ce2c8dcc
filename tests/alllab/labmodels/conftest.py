"""Fixtures of the lab model tests: a lab whose pathologists reviewed cells of several cases, small training rules."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from alllab.analysis.models import AnalysisRun
from alllab.review.models import CellReview, ReviewLabel
from tests.alllab.factories import CaseFactory, CellFactory, SlideFactory
from tests.alllab.labmodels.cells import cell_crop
from tests.alllab.worker import WEB_TEST_QUEUE


def _png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def review_cells(*, lab, reviewer, n_cases: int = 6, per_case: int = 6, seed: int = 0) -> list:
    """Cases of ``lab`` with one analysed slide each and every cell reviewed: even cases hold blasts and other white
    cells, odd ones only other white cells. Returns the cases."""
    cases = []
    for k in range(n_cases):
        case = CaseFactory(lab=lab, created_by=reviewer)
        slide = SlideFactory(case=case)
        run = AnalysisRun.objects.create(slide=slide, status=AnalysisRun.Status.DONE, model_version="shipped")
        for i in range(per_case):
            blast = k % 2 == 0 and i % 2 == 0
            crop = cell_crop(blast=blast, seed=seed + 100 * k + i)
            cell = CellFactory(run=run, index=i, crop=ContentFile(_png(crop), name="c.png"), p_blast=0.5)
            label = ReviewLabel.BLAST if blast else ReviewLabel.OTHER_WBC
            CellReview.objects.create(cell=cell, label=label, reviewed_by=reviewer, reviewed_at=timezone.now())
        cases.append(case)
    return cases


@pytest.fixture
def small_rules(settings):
    """Rules small enough for a few synthetic cases and a two-epoch fine-tune."""
    settings.ALLLAB_ADAPT_MIN_CASES = 4
    settings.ALLLAB_ADAPT_MIN_CELLS_PER_CLASS = 5
    settings.ALLLAB_ADAPT_EPOCHS = 2
    settings.ALLLAB_ADAPT_PATIENCE = 2
    return settings


@pytest.fixture
def training_worker(live_worker, monkeypatch):
    """The session's real worker, also taking adaptation jobs (on this session's own queue, like its analyses)."""
    from alllab.analysis import tasks

    send = tasks.adapt_lab_model.apply_async
    monkeypatch.setattr(tasks.adapt_lab_model, "delay", lambda job_id: send((job_id,), queue=WEB_TEST_QUEUE))
    return live_worker
