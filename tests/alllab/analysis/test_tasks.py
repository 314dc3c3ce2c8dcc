"""The task shell: bad input fails the run without retry, transient errors put it back in the queue and retry."""

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from alllab.analysis import tasks
from alllab.analysis.models import AnalysisRun
from tests.alllab.factories import AnalysisRunFactory
from tests.alllab.stubs import StubPredictor


@pytest.fixture
def run(lab):
    return AnalysisRunFactory(slide__case__lab=lab)


def test_it_runs_the_service_with_the_process_predictor(run, monkeypatch):
    monkeypatch.setattr(tasks, "load_predictor", lambda: StubPredictor([0.7]))
    tasks.analyze_slide.apply(args=[run.id])
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.DONE and run.n_cells == 1


def test_it_retries_a_transient_error_with_the_run_back_in_the_queue(run, monkeypatch):
    class FlakyPredictor(StubPredictor):
        def analyze(self, rgb, **kwargs):
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "load_predictor", lambda: FlakyPredictor())
    with pytest.raises(Retry):
        tasks.analyze_slide.apply(args=[run.id], throw=True)
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.QUEUED and run.attempts == 1


def test_it_fails_the_run_on_an_unexpected_error_without_retrying(run, monkeypatch):
    def broken():
        raise RuntimeError("checkpoint sha256 mismatch")

    monkeypatch.setattr(tasks, "load_predictor", broken)
    result = tasks.analyze_slide.apply(args=[run.id])
    assert result.successful()
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.FAILED and "checkpoint sha256 mismatch" in run.error


def test_it_records_the_host_that_claimed_the_run(run, monkeypatch):
    # Applied eagerly, Celery's request names the machine; a real worker's node name ("name@host") is checked end to
    # end in test_integration.py and in the stack test.
    from celery.utils.nodenames import gethostname

    monkeypatch.setattr(tasks, "load_predictor", lambda: StubPredictor([0.7]))
    tasks.analyze_slide.apply(args=[run.id])
    run.refresh_from_db()
    assert run.worker == gethostname() != ""


def test_it_is_configured_for_safe_redelivery(settings):
    assert tasks.analyze_slide.acks_late is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_SERIALIZER == "json" and settings.CELERY_ACCEPT_CONTENT == ["json"]
    if settings.CELERY_BROKER_URL.startswith("redis"):
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT > settings.CELERY_TASK_SOFT_TIME_LIMIT


def test_a_worker_registers_every_task_beat_sends(settings):
    # A fresh process, as a worker starts: what it registers must not depend on what some test imported first.
    import subprocess
    import sys

    names = sorted({entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()})
    script = (
        "import django; django.setup(); from alllab.celery import app; app.loader.import_default_modules(); "
        f"print([n for n in {names!r} if n not in app.tasks])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert names and out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
