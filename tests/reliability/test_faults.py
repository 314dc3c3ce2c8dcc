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


# --- with a real worker and Redis ---------------------------------------------------------------------------------

redis_only = pytest.mark.skipif(
    not __import__("django.conf").conf.settings.CELERY_BROKER_URL.startswith("redis"),
    reason="needs REDIS_URL (a Redis broker)",
)


def _slide(lab, technician, *, size=(640, 480), seed=5):
    from django.core.files.base import ContentFile

    from tests.alllab.factories import SlideFactory

    case = CaseFactory(lab=lab, created_by=technician)
    return SlideFactory(case=case, image=ContentFile(smear_png(seed=seed, size=size), name="s.png"))


def _point_broker(app, url: str) -> None:
    """Point this process's Celery app at ``url``, dropping its references to pooled connections and producers."""
    import os

    app.conf.broker_url = url
    if "CELERY_BROKER_URL" in os.environ:  # Celery reads it before its own setting
        os.environ["CELERY_BROKER_URL"] = url
    # kombu keeps producer pools in a process-wide registry keyed by connection: closing only the app's would hand
    # the closed pool back on the next send ("Acquire on closed pool") once an earlier test had sent a task. Reset the
    # registry and drop the app's references, so the next send builds fresh pools for whichever URL is current.
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def _wait(predicate, worker, *, timeout=150, what="condition"):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker is not None and worker.poll() is not None and worker.returncode != -9:
            pytest.fail(f"worker exited ({worker.returncode}):\n{worker.log_path.read_text()[-4000:]}")
        time.sleep(0.3)
    log = worker.log_path.read_text()[-4000:] if worker is not None else ""
    pytest.fail(f"timed out waiting for {what}:\n{log}")


def _assert_stored_once(run):
    assert run.status == AnalysisRun.Status.DONE, run.error
    cells = list(run.cells.all())
    assert len(cells) == run.n_cells > 0
    assert len({c.index for c in cells}) == len(cells)  # no duplicate cells
    referenced = {c.crop.name for c in cells} | {c.heatmap.name for c in cells if c.heatmap}
    assert _stored_run_files(run.id) == referenced  # no orphan crops or heatmaps


@redis_only
@pytest.mark.integration
def test_it_keeps_an_upload_while_redis_is_unreachable_and_a_real_worker_runs_it_once_back(
    fault_worker, fault_queue, transactional_db, worker_media, settings, client, technician, lab
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from alllab.celery import app
    from tests.alllab.worker import wait_for_run

    settings.MEDIA_ROOT = str(worker_media)
    case = CaseFactory(lab=lab, created_by=technician)
    client.force_login(technician)
    real_url = app.conf.broker_url
    _point_broker(app, "redis://127.0.0.1:1/0")  # nothing listens there: a real "connection refused"
    try:
        response = client.post(f"/cases/{case.id}/slides/", {"file": SimpleUploadedFile("s.png", smear_png(seed=4))})
    finally:
        _point_broker(app, real_url)
    assert response.status_code == 201, response.content
    run = AnalysisRun.objects.get(slide__case=case)
    assert run.status == AnalysisRun.Status.QUEUED and run.error == sweeper.NOT_SENT
    assert client.get(f"/cases/{case.id}/status/").json()["slides"][0]["status"] == "queued"

    assert sweeper.runs_sweep().sent == [run.id]  # the broker is back
    _assert_stored_once(wait_for_run(AnalysisRun, run.id, fault_worker))


@redis_only
@pytest.mark.integration
def test_it_finishes_a_run_exactly_once_after_its_worker_is_killed_mid_analysis(
    transactional_db, worker_media, tmp_path, settings, monkeypatch, lab, technician
):
    """SIGKILL while the run is ``running``; the message comes back and the sweeper re-queues the stuck run.

    Production waits a visibility timeout (2x the task's hard limit) before Redis redelivers, and the sweeper
    presumes a worker dead after the hard limit. Here the workers get a 3 s visibility timeout
    (``tests/reliability/worker_settings.py``) and the sweep a 1 s limit, so the whole story takes seconds. Both deliveries (redelivered and re-sent) reach a worker;
    the conditional claim lets exactly one of them do the work.
    """
    import os
    import signal

    from tests.reliability.workers import FAULT_QUEUE, purge_queue, start_worker, stop_worker

    queue = f"{FAULT_QUEUE}-kill"  # its own: the module's fault worker must not take these messages
    send = tasks.analyze_slide.apply_async
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: send((run_id,), queue=queue))
    settings.MEDIA_ROOT = str(worker_media)
    purge_queue(queue)
    log = tmp_path / "worker.log"
    fast = {"DJANGO_SETTINGS_MODULE": "tests.reliability.worker_settings"}
    slow = {"DJANGO_SETTINGS_MODULE": "tests.reliability.slow_worker_settings"}  # so the kill lands mid-analysis
    first = start_worker(log, worker_media, queues=queue, **slow)
    try:
        run = AnalysisRun.objects.create(slide=_slide(lab, technician, size=(1600, 1200)))
        tasks.analyze_slide.delay(run.id)
        _wait(
            lambda: AnalysisRun.objects.filter(pk=run.id, status="running", progress__gt=0).exists(),
            first,
            what="the run to be running",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_worker(first)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.RUNNING and run.attempts == 1  # stranded: nobody works on it

    second = start_worker(log, worker_media, queues=queue, **fast)
    try:
        report = sweeper.runs_sweep(stuck_after=timedelta(seconds=1))
        assert report.requeued == [run.id] and report.sent == [run.id]
        done = _wait(
            lambda: AnalysisRun.objects.filter(pk=run.id, status__in=["done", "failed"]).first(),
            second,
            what="the run to finish",
        )
        _assert_stored_once(done)
        assert done.attempts == 2  # claimed by the killed worker and once more: never twice after the kill
        _wait(lambda: b"not claimable" in log.read_bytes(), second, timeout=60, what="the redelivered message")
        done.refresh_from_db()
        assert done.attempts == 2 and done.cells.count() == done.n_cells  # the duplicate delivery changed nothing
    finally:
        stop_worker(second)


@redis_only
@pytest.mark.integration
def test_it_fails_a_run_cleanly_when_the_database_refuses_its_cells_and_keeps_serving(
    fault_worker, fault_queue, transactional_db, worker_media, settings, lab, technician
):
    from django.db import connection, transaction

    from alllab.analysis.dispatch import run_enqueue
    from tests.alllab.worker import wait_for_run

    settings.MEDIA_ROOT = str(worker_media)
    slide = _slide(lab, technician, seed=6)
    # A real database error from inside the database, raised while the worker inserts the cells of this slide.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE OR REPLACE FUNCTION alllab_fault() RETURNS trigger AS $$ BEGIN "
                f"IF (SELECT slide_id FROM analysis_analysisrun WHERE id = NEW.run_id) = {slide.id} THEN "
                "RAISE EXCEPTION 'injected fault: disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER alllab_fault BEFORE INSERT ON analysis_cell FOR EACH ROW EXECUTE FUNCTION alllab_fault()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER alllab_fault BEFORE INSERT ON analysis_cell WHEN "
                f"(SELECT slide_id FROM analysis_analysisrun WHERE id = NEW.run_id) = {slide.id} "
                "BEGIN SELECT RAISE(ABORT, 'injected fault: disk full'); END"
            )
    try:
        with transaction.atomic():
            run = run_enqueue(slide=slide)
        failed = wait_for_run(AnalysisRun, run.id, fault_worker)
        assert failed.status == AnalysisRun.Status.FAILED and "injected fault" in failed.error
        assert failed.cells.count() == 0 and failed.n_cells is None and _stored_run_files(run.id) == set()

        with transaction.atomic():
            next_run = run_enqueue(slide=_slide(lab, technician, seed=7))  # the worker keeps serving
        _assert_stored_once(wait_for_run(AnalysisRun, next_run.id, fault_worker))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER IF EXISTS alllab_fault"
                + (" ON analysis_cell" if connection.vendor == "postgresql" else "")
            )


def test_it_does_not_claim_a_stale_run_again_once_its_attempts_are_used(lab, stub_worker):
    from alllab.analysis.services import run_claim

    long_ago = timezone.now() - timedelta(hours=2)
    spent = AnalysisRunFactory(
        slide__case__lab=lab, status=AnalysisRun.Status.RUNNING, started_at=long_ago, attempts=sweeper.MAX_ATTEMPTS
    )
    retry = AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.RUNNING, started_at=long_ago, attempts=1)
    assert run_claim(run_id=spent.id) is None  # a redelivered message leaves it to the sweeper, which fails it
    assert run_claim(run_id=retry.id).attempts == 2
