"""Killable Celery workers for the fault tests, on a queue of this test session's own, on the test database and the
shared worker media (``tests.alllab.worker``).

The queue name carries the process id: another test session on the same Redis (a colleague's, or the session's
shared worker) consumes ``celery`` and would take these messages to a database where their runs do not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.alllab.worker import ROOT, worker_database_url

FAULT_QUEUE = f"alllab-faults-{os.getpid()}"


def start_worker(log_path: Path, media: Path, *, queues: str = FAULT_QUEUE, **env_extra: str) -> subprocess.Popen:
    """Start ``celery worker --pool solo`` on ``queues`` and wait until it consumes (fails the test if it never does)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alllab.settings",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(media),
        "ALLLAB_DEVICE": "cpu",
        "DB_CONN_MAX_AGE": "0",
        "PGAPPNAME": f"alllab-fault-worker-{os.getpid()}",
        **env_extra,
    }
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "alllab",
        "worker",
        "--pool",
        "solo",
        "-Q",
        queues,
        "--loglevel",
        "INFO",
    ]
    cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"faults-{time.monotonic_ns()}@%h"]
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path
    deadline = time.monotonic() + 90
    while b" ready." not in log_path.read_bytes()[offset:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.3)
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def purge_queue(name: str) -> None:
    """Drop messages a previous, interrupted run may have left in ``name``."""
    from alllab.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


@pytest.fixture
def fault_queue(monkeypatch):
    """Everything the app sends to a worker (``analyze_slide.delay``) goes to this session's fault queue instead."""
    from alllab.analysis import tasks

    send = tasks.analyze_slide.apply_async
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: send((run_id,), queue=FAULT_QUEUE))
    return FAULT_QUEUE


@pytest.fixture(scope="module")
def fault_worker(django_db_setup, django_db_blocker, worker_media, tmp_path_factory):
    """One worker on the fault queue for a module's tests (the tests that kill a worker start their own)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs REDIS_URL (a Redis broker)")
    purge_queue(FAULT_QUEUE)
    proc = start_worker(tmp_path_factory.mktemp("fault-worker") / "worker.log", worker_media)
    yield proc
    stop_worker(proc)
