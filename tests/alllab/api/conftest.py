"""API test fixtures: a LIS token for each lab, API clients holding them, and a finished analysis to read."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from alllab.analysis.models import AnalysisRun
from alllab.api.services import lis_client_create
from alllab.cases.models import Case
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_buckets():
    cache.clear()  # throttle history lives in the cache; one test must not spend another's budget
    yield
    cache.clear()


@pytest.fixture
def lis(lab):
    """(client row, token) for the ``north`` lab."""
    return lis_client_create(name="hospital-lis", lab=lab)


@pytest.fixture
def api(lis):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {lis[1]}")
    return c


@pytest.fixture
def other_api(other_lab):
    _, token = lis_client_create(name="south-lis", lab=other_lab)
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return c


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def done_case(lab, technician):
    """A case in ``north`` with one analysed slide (3 cells, one blast) and the stored case summary."""
    case = CaseFactory(lab=lab, created_by=technician, accession_number="ACC-DONE", patient_pseudonym="PSN-7")
    slide = SlideFactory(case=case, original_filename="smear one.png")
    run = AnalysisRunFactory(
        slide=slide,
        status=AnalysisRun.Status.DONE,
        model_name="hybrid-vgg",
        model_version="1.2.0",
        n_cells=3,
        n_blast=1,
        blast_fraction=1 / 3,
        blast_fraction_ci95_lo=0.0615,
        blast_fraction_ci95_hi=0.7923,
        max_p_blast=0.91,
        call="suspicious",
        quality={"focus": 120.0, "stain": {}, "flags": [], "ok": True},
    )
    cells = [CellFactory(run=run, index=i, p_blast=p) for i, p in enumerate((0.91, 0.3, 0.1))]
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.AWAITING_REVIEW,
        n_cells=3,
        n_blast=1,
        blast_fraction=1 / 3,
        blast_fraction_ci95_lo=0.0615,
        blast_fraction_ci95_hi=0.7923,
        max_p_blast=0.91,
        call="suspicious",
    )
    case.refresh_from_db()
    return case, slide, run, cells
