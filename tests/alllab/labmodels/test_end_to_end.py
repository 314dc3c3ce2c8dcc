"""End to end with a real Celery worker on Redis: reviewed cells -> adapt -> candidate scored -> activate -> a new
upload's run uses the lab model -> roll back; and the refusals and failures around it."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from alllab.analysis.models import AnalysisRun
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.review.models import AuditEvent
from tests.alllab.factories import CaseFactory
from tests.alllab.labmodels.conftest import review_cells
from tests.alllab.smear import smear_png
from tests.alllab.worker import wait_for_run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (a Redis broker)"),
]


def wait_for_job(job_id: int, worker, *, timeout: float = 300) -> AdaptationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = AdaptationJob.objects.get(pk=job_id)
        if not job.is_open:
            return job
        if worker.poll() is not None:
            pytest.fail(f"worker exited ({worker.returncode}):\n{worker.log_path.read_text()[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"job {job_id} still {job.status} after {timeout} s:\n{worker.log_path.read_text()[-4000:]}")


def _adapt(client, lab) -> AdaptationJob:
    response = client.post("/lab/models/adapt/", {"lab": lab.pk})
    assert response.status_code == 302
    return AdaptationJob.objects.filter(lab=lab).latest("created_at")


def test_it_adapts_activates_analyses_with_the_lab_model_and_rolls_back(
    training_worker, small_rules, client, lab, lab_admin, pathologist, technician
):
    review_cells(lab=lab, reviewer=pathologist)
    client.force_login(lab_admin)
    job = wait_for_job(_adapt(client, lab).pk, training_worker)
    assert job.status == "done", job.error
    assert job.epoch >= 1 and job.loss is not None and [row["epoch"] for row in job.history][:1] == [1]
    candidate = job.candidate
    shipped = LabModel.objects.get(lab=lab, kind="shipped")
    assert candidate.status == "candidate" and candidate.base == shipped and shipped.status == "active"
    assert candidate.checkpoint.name.startswith(f"lab_models/{lab.pk}/")
    assert not set(candidate.training_case_ids) & set(candidate.heldout_case_ids)
    assert candidate.n_train_cells + candidate.n_heldout_cells == job.n_cells
    for side in ("base", "candidate"):
        assert 0.0 <= candidate.evaluation[side]["auroc"] <= 1.0
        assert len(candidate.evaluation[side]["auroc_ci95"]) == 2
    assert candidate.gate_passed, candidate.evaluation["gate"]

    page = client.get(f"/lab/models/{candidate.pk}/")
    assert page.status_code == 200 and 'id="comparison"' in page.text and 'id="activate"' in page.text
    # Whether the label-free calibration ran before fine-tuning (and if not, why) is on the candidate's page.
    assert escape(candidate.evaluation["calibration"]["detail"]) in page.text.split('id="calibration"')[1]
    # The candidate's operating point and what it was chosen on (the train-side validation split; on these few
    # synthetic cells that split may hold no blast, and then the base's point is kept and the page says so), too.
    chosen = candidate.evaluation["operating_points"]["candidate"]["chosen_on"]
    assert "train-side validation split" in chosen
    assert escape(chosen) in page.text.split('id="operating-point"')[1]
    assert client.post(f"/lab/models/{candidate.pk}/activate/").status_code == 302
    candidate.refresh_from_db()
    shipped.refresh_from_db()
    assert candidate.status == "active" and candidate.activated_by == lab_admin and candidate.replaced == shipped
    assert shipped.status == "retired"
    event = AuditEvent.objects.get(action="model_activate", lab=lab)
    assert event.detail["sha256"] == candidate.sha256 and event.actor == lab_admin

    # A new upload of the lab is analysed by the lab's model, and the run says so.
    case = CaseFactory(lab=lab, created_by=technician)
    client.force_login(technician)
    upload = SimpleUploadedFile("smear.png", smear_png(seed=5), content_type="image/png")
    response = client.post(f"/cases/{case.id}/slides/", {"file": upload})
    assert response.status_code == 201, response.content
    run = wait_for_run(
        AnalysisRun, AnalysisRun.objects.get(slide_id=response.json()["slide"]["id"]).pk, training_worker
    )
    assert run.status == "done", run.error
    assert run.model_version == candidate.version and run.model_sha256 == candidate.sha256
    assert run.lab_model == candidate
    slide_json = client.get(f"/api/v1/slides/{run.slide_id}/").json()
    assert slide_json["model_version"] == candidate.version and slide_json["model_sha256"] == candidate.sha256

    client.force_login(lab_admin)
    api = client.get("/api/v1/models/active/").json()
    assert api == [{"lab": lab.slug, "model": api[0]["model"]}] and api[0]["model"]["sha256"] == candidate.sha256

    assert client.post("/lab/models/rollback/", {"lab": lab.pk}).status_code == 302
    candidate.refresh_from_db()
    shipped.refresh_from_db()
    assert shipped.status == "active" and candidate.status == "retired"
    assert AuditEvent.objects.filter(action="model_rollback", lab=lab, object_id=str(shipped.pk)).exists()


def test_it_fails_a_training_cleanly_and_keeps_the_active_model(
    training_worker, small_rules, client, lab, lab_admin, pathologist
):
    cases = review_cells(lab=lab, reviewer=pathologist)
    for case in cases:  # the crops vanish from storage between the button and the worker
        for run in AnalysisRun.objects.filter(slide__case=case):
            for cell in run.cells.all():
                cell.crop.storage.delete(cell.crop.name)
    client.force_login(lab_admin)
    job = wait_for_job(_adapt(client, lab).pk, training_worker)
    assert job.status == "failed" and job.error.startswith("Training failed (FileNotFoundError)")
    assert job.candidate is None
    assert not LabModel.objects.filter(lab=lab, kind="adapted").exists()
    assert list(LabModel.objects.filter(lab=lab, status="active").values_list("kind", flat=True)) == ["shipped"]
    # The lab may try again at once: a failed job does not block the next.
    assert AdaptationJob.objects.filter(lab=lab, status__in=["queued", "running"]).count() == 0


def test_it_cancels_a_running_adaptation(training_worker, small_rules, client, lab, lab_admin, pathologist):
    small_rules.ALLLAB_ADAPT_EPOCHS = 200  # long enough that the cancel arrives mid-training
    small_rules.ALLLAB_ADAPT_PATIENCE = 200
    review_cells(lab=lab, reviewer=pathologist)
    client.force_login(lab_admin)
    job = _adapt(client, lab)
    deadline = time.monotonic() + 180
    while AdaptationJob.objects.get(pk=job.pk).epoch < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert client.post(f"/lab/models/jobs/{job.pk}/cancel/").status_code == 302
    job = wait_for_job(job.pk, training_worker)
    assert job.status == "cancelled" and job.epoch < 200 and job.candidate is None
    assert not LabModel.objects.filter(lab=lab, kind="adapted").exists()
