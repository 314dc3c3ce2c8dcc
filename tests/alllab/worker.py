"""A real Celery worker subprocess for the integration and browser tests, sharing the test database and media."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# One queue per test session: two sessions on one Redis database (developers running tests side by side) must
# never take each other's messages; their workers read other test databases.
WEB_TEST_QUEUE = f"alllab-web-tests-{os.getpid()}"


def broker_reachable(url: str) -> bool:
    """Whether the broker answers: a TCP connect for Redis, the file's folder for SQLite."""
    if url.startswith("redis"):
        parts = urlsplit(url)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
                return True
        except OSError:
            return False
    return url.startswith("sqla+sqlite:")


def worker_database_url() -> str:
    """A DATABASE_URL naming the test database this process created, for the worker to open."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def worker_media(tmp_path_factory):
    """The media folder every test worker uses. One per session even when several conftests import this fixture
    (each import is a definition of its own, with its own session instance, and two workers may both be running)."""
    path = tmp_path_factory.getbasetemp() / "worker-media"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def worker_process(django_db_setup, django_db_blocker, worker_media, tmp_path_factory):
    """One ``celery worker --pool solo`` for the session, on the test database, with stale messages purged."""
    broker = settings.CELERY_BROKER_URL
    if not broker_reachable(broker):
        pytest.skip(f"broker {broker} is not reachable")
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("an in-memory SQLite test database cannot be shared with a worker")
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alllab.settings",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(worker_media),
        "ALLLAB_DEVICE": "cpu",
        "DB_CONN_MAX_AGE": "0",
        "PGAPPNAME": f"alllab-test-worker-{os.getpid()}",
    }
    queues = f"{WEB_TEST_QUEUE},{settings.CELERY_TASK_DEFAULT_QUEUE}"
    cmd = [sys.executable, "-m", "celery", "-A", "alllab", "worker", "--pool", "solo", "--purge", "-Q", queues]
    cmd += ["--loglevel", "INFO", "-n", f"web-tests-{os.getpid()}@%h"]
    cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path
    # Wait until it is consuming: --purge runs at start-up and would erase a message sent before that.
    deadline = time.monotonic() + 90
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.3)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def live_worker(worker_process, transactional_db, settings, worker_media, monkeypatch):
    """The session's worker, for a test whose writes are committed (so the worker sees them) and shared media.

    Analyses go to a queue only this worker reads: another test's worker on the same Redis (the fault tests start
    and kill their own) must not take them. The worker also reads the default queue, for the app's other tasks.
    """
    from alllab.analysis import tasks

    settings.MEDIA_ROOT = str(worker_media)
    send = tasks.analyze_slide.apply_async
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: send((run_id,), queue=WEB_TEST_QUEUE))
    return worker_process


def wait_for_run(run_model, run_id: int, worker, *, timeout: float = 180) -> object:
    """Poll the run row until it is done or failed; fail with the worker's log if it never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = run_model.objects.get(pk=run_id)
        if run.status in ("done", "failed"):
            return run
        if worker.poll() is not None:
            pytest.fail(f"worker exited ({worker.returncode}):\n{worker.log_path.read_text()[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"run {run_id} still {run.status} after {timeout} s:\n{worker.log_path.read_text()[-4000:]}")
