#!/usr/bin/env python
"""``make run``: prepare the database and demo data, then run gunicorn and a Celery worker side by side.

Both run as children of this script: Ctrl-C (or SIGTERM) stops both, and if one dies the other is stopped too,
so the app never runs half up. Port from ``PORT`` (default 8000), interface from ``HOST`` (default 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def manage(*args: str) -> str:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout


def stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def main() -> int:
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alllab.settings")
    print("== applying migrations (SQLite in var/)", flush=True)
    manage("migrate", "--noinput", "-v", "0")
    print("== collecting static files", flush=True)
    manage("collectstatic", "--noinput", "-v", "0")
    print("== demo lab, users and case (manage.py create_demo)", flush=True)
    demo = manage("create_demo")
    print("== starting gunicorn and a Celery worker", flush=True)

    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "alllab.wsgi", "--bind", f"{host}:{port}", "--workers", "2", "--timeout", "120"],
        cwd=ROOT,
    )
    # -B embeds beat, which schedules the sweeper (resends runs a broker hiccup left unsent, re-queues stuck ones);
    # fine for one local worker, while production runs exactly one separate beat (docker-compose's "beat").
    (ROOT / "var").mkdir(exist_ok=True)
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "alllab", "worker", "--concurrency", "1", "--loglevel", "INFO", "-B"]
        # Both queues: analyses and lab adaptations (alllab.settings ALLLAB_TASK_QUEUE, ALLLAB_TRAINING_QUEUE).
        + [
            "-Q",
            f"{os.environ.get('ALLLAB_TASK_QUEUE', 'celery')},{os.environ.get('ALLLAB_TRAINING_QUEUE', 'training')}",
        ]
        + ["--schedule", str(ROOT / "var" / "celerybeat-schedule")],
        cwd=ROOT,
    )
    children = [web, worker]
    print(f"\nALL-Lab is starting at http://{host}:{port}/  (Ctrl-C stops the web server and the worker)", flush=True)
    print(demo, flush=True)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started from a shell that ignores SIGINT in the background
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        dead = next(child for child in children if child.poll() is not None)
        print(f"{'gunicorn' if dead is web else 'celery worker'} exited ({dead.returncode}); stopping.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the web server and the worker...", flush=True)
        return 0
    finally:
        stop(children)


if __name__ == "__main__":
    sys.exit(main())
