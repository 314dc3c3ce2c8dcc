"""Faults: the broker away at upload, the database failing after inference, a worker killed mid-analysis.

The first tests drive the services and the task in this process (a stand-in predictor, a patched broker); those
marked ``integration`` run a real Celery worker on Redis and skip cleanly without one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from alllab.analysis import sweeper, tasks
from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case
from tests.alllab.factories import AnalysisRunFactory, CaseFactory
from tests.alllab.smear import smear_png
from tests.alllab.stubs import StubPredictor


def _stored_run_files(run_id: int) -> set[str]:
    folder = f"runs/{run_id}"
    if not default_storage.exists(folder):
        return set()
    return {f"{folder}/{name}" for name in default_storage.listdir(folder)[1]}


@pytest.fixture
def broker_down(monkeypatch):
    """Every send fails as kombu fails when Redis refuses the connection."""
    calls = []

    def refuse(run_id):
        calls.append(run_id)
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.analyze_slide, "delay", refuse)
    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: None)
    return calls


def test_it_accepts_an_upload_while_the_broker_is_down_and_sends_it_when_back(
    tech_client, lab, broker_down, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = CaseFactory(lab=lab)
    with django_capture_on_commit_callbacks(execute=True):
        response = tech_client.post(f"/cases/{case.id}/slides/", {"file": SimpleUploadedFile("s.png", smear_png())})
    assert response.status_code == 201, response.content
    run = AnalysisRun.objects.get(slide__case=case)
    assert broker_down == [run.id]
    assert run.status == AnalysisRun.Status.QUEUED and run.error == sweeper.NOT_SENT
    assert case.slides.count() == 1
    assert sweeper.runs_sweep().unsent == [run.id]  # still down: stays queued, nothing lost

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    assert sweeper.runs_sweep().sent == [run.id] and sent == [run.id]
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED and run.error == ""
    assert sweeper.runs_sweep().sent == []  # sent once: not again while its message waits


def test_it_requeues_a_stuck_run_and_fails_it_after_the_attempt_limit(lab, sent, monkeypatch):
    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: 3)
    long_ago = timezone.now() - timedelta(hours=2)
    run = AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.RUNNING, started_at=long_ago, attempts=1)
    fresh = AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.RUNNING, started_at=timezone.now())

    report = sweeper.runs_sweep()
    assert report.requeued == [run.id] and report.sent == [run.id] and sent == [run.id]
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED
    fresh.refresh_from_db()
    assert fresh.status == AnalysisRun.Status.RUNNING  # its worker may well be alive

    AnalysisRun.objects.filter(pk=run.pk).update(
        status=AnalysisRun.Status.RUNNING, started_at=long_ago, attempts=sweeper.MAX_ATTEMPTS
    )
    report = sweeper.runs_sweep()
    assert report.failed == [run.id] and report.requeued == []
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.FAILED and "stopped without finishing 3 times" in run.error
    assert Case.objects.get(pk=run.slide.case_id).status == Case.Status.AWAITING_REVIEW


def test_it_resends_old_queued_runs_only_when_the_broker_queue_is_empty(lab, sent, monkeypatch):
    old = AnalysisRunFactory(slide__case__lab=lab)
    AnalysisRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    AnalysisRunFactory(slide__case__lab=lab)  # young: may be on its way
    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: 2)
    assert sweeper.runs_sweep().sent == []  # messages are waiting: this run's is probably among them
    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: 0)
    assert sweeper.runs_sweep().sent == [old.id]  # nothing waits: its message was lost


def test_it_runs_the_sweep_from_the_command_and_the_beat_task(lab, sent, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: None)
    run = AnalysisRunFactory(slide__case__lab=lab, error=sweeper.NOT_SENT)
    call_command("sweep_runs")
    assert sent == [run.id]
    AnalysisRun.objects.filter(pk=run.pk).update(error=sweeper.NOT_SENT)
    assert sweeper.sweep_runs.apply().get()["sent"] == [run.id]


def test_it_schedules_the_sweep_with_celery_beat(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "alllab.analysis.sweep_runs")
    assert 0 < entry["schedule"] <= 300


@pytest.fixture
def stub_worker(monkeypatch):
    predictor = StubPredictor([0.9, 0.4, 0.1])
    monkeypatch.setattr(tasks, "load_predictor", lambda: predictor)
    return predictor


def test_it_retries_cleanly_when_the_database_write_fails_after_inference(lab, stub_worker, monkeypatch):
    run = AnalysisRunFactory(slide__case__lab=lab)
    real_bulk_create = Cell.objects.bulk_create
    failures = iter([OperationalError("could not write: connection reset")])

    def flaky_bulk_create(objs, *args, **kwargs):
        exc = next(failures, None)
        if exc:
            raise exc
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(Cell.objects, "bulk_create", flaky_bulk_create)
    with pytest.raises(Retry):
        tasks.analyze_slide.apply(args=[run.id], throw=True)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED and run.n_cells is None
    assert run.cells.count() == 0 and _stored_run_files(run.id) == set()  # nothing half-written

    tasks.analyze_slide.apply(args=[run.id])  # the retry's delivery
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.DONE and run.n_cells == run.cells.count() == 3
    assert _stored_run_files(run.id) == {c.crop.name for c in run.cells.all()} | {
        c.heatmap.name for c in run.cells.all()
    }


def test_it_fails_cleanly_when_the_database_refuses_the_result(lab, stub_worker, monkeypatch):
    run = AnalysisRunFactory(slide__case__lab=lab)

    def refuse(objs, *args, **kwargs):
        raise IntegrityError("violates check constraint")

    monkeypatch.setattr(Cell.objects, "bulk_create", refuse)
    tasks.analyze_slide.apply(args=[run.id])
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.FAILED and "IntegrityError" in run.error
    assert run.cells.count() == 0 and run.n_cells is None and _stored_run_files(run.id) == set()
