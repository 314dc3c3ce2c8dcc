"""End to end with a real Celery worker on Redis: upload through the view, the worker stores the cells."""

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from alllab.analysis.dispatch import run_enqueue
from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case
from tests.alllab.factories import CaseFactory, SlideFactory
from tests.alllab.smear import smear_png
from tests.alllab.worker import wait_for_run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (a Redis broker)"),
]


def test_it_analyses_an_uploaded_smear_in_a_real_worker(live_worker, client, technician, lab):
    case = CaseFactory(lab=lab, created_by=technician)
    client.force_login(technician)
    upload = SimpleUploadedFile("smear.png", smear_png(seed=3), content_type="image/png")
    response = client.post(f"/cases/{case.id}/slides/", {"file": upload})
    assert response.status_code == 201, response.content
    run = AnalysisRun.objects.get(slide_id=response.json()["slide"]["id"])
    run = wait_for_run(AnalysisRun, run.id, live_worker)
    assert run.status == "done", run.error
    assert run.model_name and run.model_version
    assert run.worker.startswith("web-tests-")  # the node name the worker was started with (-n), not the web's host
    assert run.n_cells == run.cells.count() and run.n_cells > 0
    cell = run.cells.order_by("index").first()
    assert cell.crop.name == f"runs/{run.id}/cell_0.png"
    with cell.crop.open("rb") as fh:
        assert fh.read(4) == b"\x89PNG"
    case.refresh_from_db()
    assert case.status == Case.Status.AWAITING_REVIEW and case.n_cells == run.n_cells


def test_it_fails_a_stored_non_image_in_the_worker_and_keeps_the_case(live_worker, client, technician, lab):
    # Bytes that are no image, stored as a slide (a file damaged in storage, or one that got past the upload check):
    # the worker must fail the run with a reason, not crash or retry, and leave the case and its other slides.
    slide = SlideFactory(
        case__lab=lab,
        case__created_by=technician,
        image=ContentFile(b"not a smear", name="x.png"),
        original_filename="x.png",
    )
    with transaction.atomic():
        run = run_enqueue(slide=slide)
    run = wait_for_run(AnalysisRun, run.id, live_worker)
    assert run.status == "failed" and run.error.startswith("x.png: ") and len(run.error) > len("x.png: ")
    assert not run.cells.exists() and Case.objects.filter(pk=slide.case_id).exists()
    client.force_login(technician)
    page = client.get(f"/analysis/slides/{slide.id}/")
    assert page.status_code == 200 and "Analysis failed" in page.text
