"""Load test: N concurrent API uploads of generated smears against gunicorn and one worker, polled to completion.

    python bench/load.py                      # starts gunicorn + one Celery worker on 127.0.0.1 itself (default N=50)
    python bench/load.py --url http://127.0.0.1:8000 --token alllab_... --n 20   # against a server already running

Reports accepted, completed, failed, lost (accepted but unknown to the server afterwards: must be 0), unfinished at
the deadline, server errors (5xx), and p50/p95 of upload latency and of time to result (upload start to the poll
that first sees done or failed; polls every ``--poll`` seconds, so that is its resolution). A few warm-up uploads go
first and the burst starts once the worker is busy with them, so the upload figures are "with the worker busy".

Loopback only: ``--url`` must name 127.0.0.1, ::1 or localhost. Bounded: N <= 500 and a hard deadline (``--timeout``).
Self-started mode uses PostgreSQL (a scratch database ``alllab_bench``, dropped afterwards) when it answers on
127.0.0.1:5432, else SQLite; Redis DB 13 on 127.0.0.1:6379 as the broker; media in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python bench/load.py`: the smears come from the tests' generator

from tests.alllab.smear import smear_png  # noqa: E402 (needs ROOT on the path)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MAX_N = 500


# ------------------------------------------------------------------ HTTP


class Api:
    """A tiny JSON client over http.client (one connection per call: threads never share one)."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit(f"refusing {url}: this load test only talks to loopback addresses")
        self.host, self.port, self.token, self.timeout = parts.hostname, parts.port or 80, token, timeout

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        conn = HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(data or b"null")
        except json.JSONDecodeError:
            return response.status, {"raw": data[:200].decode(errors="replace")}

    def upload(self, case_id: int, name: str, png: bytes):
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + png
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST", f"/api/v1/cases/{case_id}/slides/", body, f"multipart/form-data; boundary={boundary}"
        )


# ------------------------------------------------------------------ the servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Servers:
    """gunicorn and one Celery worker on loopback, on a scratch database, media and Redis DB; torn down on exit."""

    def __init__(self, *, web_workers: int, web_threads: int, redis_db: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="alllab-load-"))
        self.port = _free_port()
        self.procs: list[subprocess.Popen] = []
        self.pg = _answers("127.0.0.1", 5432)
        db_url = (
            "postgres://postgres@127.0.0.1:5432/alllab_bench" if self.pg else f"sqlite:///{self.tmp / 'db.sqlite3'}"
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "alllab.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ALLLAB_VAR_DIR": str(self.tmp),
            "MEDIA_ROOT": str(self.tmp / "media"),
            "DATABASE_URL": db_url,
            "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "ALLLAB_API_RATE_CLIENT": "100000/min",  # the polls of N clients would otherwise meet the API's rate limit
            "ALLLAB_DEVICE": "cpu",
            "LOG_LEVEL": "WARNING",
        }
        self.web_workers, self.web_threads = web_workers, web_threads

    def _manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _scratch_database(self, create: bool) -> None:
        if not self.pg:
            return
        sql = ["DROP DATABASE IF EXISTS alllab_bench WITH (FORCE)"] + (
            ["CREATE DATABASE alllab_bench"] if create else []
        )
        for statement in sql:
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", statement], check=True, capture_output=True
            )

    def start(self) -> str:
        """Migrate, make a lab and a token, start both servers, wait for /readyz; return the token."""
        self._scratch_database(create=True)
        self._manage("migrate", "--noinput", "-v", "0")
        token = (
            self._manage(
                "shell",
                "-c",
                "from alllab.accounts.models import Lab; from alllab.api.services import lis_client_create; "
                "lab, _ = Lab.objects.get_or_create(slug='load', defaults={'name': 'Load test lab'}); "
                "print(lis_client_create(name='load-test', lab=lab)[1])",
            )
            .strip()
            .splitlines()[-1]
        )
        log = open(self.tmp / "servers.log", "ab")  # noqa: SIM115 (closed with the processes)
        web = ["gunicorn", "alllab.wsgi", "-b", f"127.0.0.1:{self.port}", "--workers", str(self.web_workers)]
        web += ["--threads", str(self.web_threads), "--timeout", "60"]
        self.procs.append(
            subprocess.Popen([sys.executable, "-m", *web], cwd=ROOT, env=self.env, stdout=log, stderr=log)
        )
        # The worker yields the CPU to the web process (nice) and keeps torch to one thread: the web answers uploads
        # while the worker is busy, which is what a deployment with both on one host must do.
        worker_env = {**self.env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        # A scratch Redis DB: emptied before the worker starts (a --purge at start-up would race the first upload).
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "alllab", "purge", "-f"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        worker_log = self.tmp / "worker.log"
        worker = ["nice", "-n", "10", sys.executable, "-m", "celery", "-A", "alllab", "worker", "--pool", "solo"]
        worker += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        with open(worker_log, "wb") as wlog:  # its own file: "ready." is how we know it consumes
            self.procs.append(subprocess.Popen(worker, cwd=ROOT, env=worker_env, stdout=wlog, stderr=wlog))
        deadline = time.monotonic() + 120
        while not (worker_log.exists() and b" ready." in worker_log.read_bytes()):
            if time.monotonic() > deadline or self.procs[-1].poll() is not None:
                raise SystemExit(f"the worker did not start:\n{worker_log.read_text()[-3000:]}")
            time.sleep(0.3)
        while time.monotonic() < deadline:
            try:
                conn = HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return token
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the servers did not become ready:\n{(self.tmp / 'servers.log').read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._scratch_database(create=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ the load


@dataclass
class Outcome:
    upload_status: int = 0
    upload_s: float = 0.0
    slide_id: int | None = None
    final: str = ""  # done | failed | unfinished | lost
    result_s: float | None = None
    server_errors: int = 0
    error: str = ""
    polls: list[int] = field(default_factory=list)


def one_slide(api: Api, case_id: int, index: int, png: bytes, deadline: float, poll_s: float) -> Outcome:
    out = Outcome()
    started = time.monotonic()
    try:
        out.upload_status, body = api.upload(case_id, f"load-{index:03d}.png", png)
    except OSError as exc:
        out.error, out.final = f"upload: {exc}", "lost"
        return out
    out.upload_s = time.monotonic() - started
    out.server_errors += out.upload_status >= 500
    if out.upload_status != 202:
        out.final, out.error = "refused", json.dumps(body)[:200]
        return out
    out.slide_id = body["id"]
    while time.monotonic() < deadline:
        time.sleep(poll_s)
        try:
            status, body = api.request("GET", f"/api/v1/slides/{out.slide_id}/")
        except OSError:
            continue  # a refused poll is retried; only the server's own answer counts
        out.server_errors += status >= 500
        out.polls.append(status)
        if status == 404:
            out.final = "lost"
            return out
        if status == 200 and body["status"] in ("done", "failed"):
            out.final, out.result_s = body["status"], time.monotonic() - started
            out.error = body.get("error", "")
            return out
    out.final = "unfinished"
    return out


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


def run_load(api: Api, *, n: int, warmup: int, timeout: float, poll_s: float) -> dict:
    status, case = api.request(
        "POST",
        "/api/v1/cases/",
        json.dumps({"accession_number": f"LOAD-{uuid.uuid4().hex[:8]}", "patient_id": "PSN-LOAD"}).encode(),
        "application/json",
    )
    if status not in (200, 201):
        raise SystemExit(f"could not create the case: {status} {case}")
    case_id = case["id"]
    pngs = [smear_png(seed=seed) for seed in range(n + warmup)]
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=n + warmup) as pool:
        warm = [pool.submit(one_slide, api, case_id, i, pngs[i], deadline, poll_s) for i in range(warmup)]
        # The burst starts when the worker is busy with a warm-up slide.
        busy_by = time.monotonic() + 60
        while warmup and time.monotonic() < busy_by:
            _, body = api.request("GET", f"/api/v1/cases/{case_id}/")
            if any(s.get("status") == "running" for s in (body or {}).get("slides", [])):
                break
            time.sleep(0.2)
        burst_started = time.monotonic()
        burst = [pool.submit(one_slide, api, case_id, warmup + i, pngs[warmup + i], deadline, poll_s) for i in range(n)]
        outcomes = [f.result() for f in burst]
        warm_outcomes = [f.result() for f in warm]
        burst_wall = time.monotonic() - burst_started
    everything = outcomes + warm_outcomes  # every upload counts for completed/lost; latencies are the burst's
    uploads = [o.upload_s for o in outcomes if o.upload_status]
    results = [o.result_s for o in outcomes if o.result_s is not None]
    count = {k: sum(o.final == k for o in everything) for k in ("done", "failed", "unfinished", "lost", "refused")}
    return {
        "n": n,
        "warmup": warmup,
        "uploads": n + warmup,
        "accepted": sum(o.upload_status == 202 for o in everything),
        "completed": count["done"],
        "failed": count["failed"],
        "lost": count["lost"],
        "unfinished_at_deadline": count["unfinished"],
        "refused": count["refused"],
        "server_errors": sum(o.server_errors for o in everything),
        "upload_s": {"p50": pct(uploads, 50), "p95": pct(uploads, 95), "max": max(uploads, default=None)},
        "time_to_result_s": {"p50": pct(results, 50), "p95": pct(results, 95), "max": max(results, default=None)},
        "burst_wall_s": round(burst_wall, 1),
        "errors": sorted({o.error for o in everything if o.error})[:5],
        "poll_statuses": {str(k): v for k, v in sorted(Counter(s for o in everything for s in o.polls).items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="concurrent uploads in the burst (max 500)")
    parser.add_argument("--warmup", type=int, default=2, help="uploads sent first, so the worker is busy")
    parser.add_argument("--url", help="a server already running (loopback only); needs --token")
    parser.add_argument("--token", help="an API token of the server at --url")
    parser.add_argument("--timeout", type=float, default=900, help="hard deadline in seconds for everything")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between status polls of each slide")
    parser.add_argument("--web-workers", type=int, default=3)  # the web image (docker/Dockerfile, target web) runs 3
    parser.add_argument("--web-threads", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= MAX_N:
        parser.error(f"--n must be between 1 and {MAX_N}")
    if args.url and not args.token:
        parser.error("--url needs --token")
    servers = None
    # A SIGTERM (a timeout, Ctrl-C in a supervisor) still stops the servers and drops the scratch database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.url:
            api = Api(args.url, args.token)
        else:
            servers = Servers(web_workers=args.web_workers, web_threads=args.web_threads, redis_db=args.redis_db)
            api = Api(servers.url, servers.start())
        report = run_load(api, n=args.n, warmup=args.warmup, timeout=args.timeout, poll_s=args.poll)
    finally:
        if servers:
            servers.stop()
    report["machine"] = f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    report["setup"] = (
        f"server at {args.url}" if args.url else f"gunicorn {args.web_workers}x{args.web_threads} + 1 solo worker"
    )
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report["lost"] == 0 and report["server_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
