"""Killable Celery workers for the fault tests: each on its own queue, so the session's shared worker never steals
their messages, on the test database and the shared worker media (``tests.alllab.worker``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.alllab.worker import ROOT, worker_database_url

FAULT_QUEUE = "alllab-faults"


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
