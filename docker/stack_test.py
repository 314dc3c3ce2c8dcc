"""The stack test: the production compose file run for real on loopback, with faults, then backup and restore.

    python3 docker/stack_test.py [--no-build] [--tag TAG] [--keep-images]

Builds the images (CPU torch) unless told not to, starts PostgreSQL, Redis, migrate, web, two CPU workers and beat
(``docker/stacktest_compose.py`` says how the production file is rewritten), waits for ``/readyz``, makes a lab, a
LIS token and a case, uploads smears through the API, fetches JSON, FHIR and HL7, then kills a worker mid-analysis,
restarts Redis and PostgreSQL, sends 20 uploads, backs up and restores into a fresh stack, tears it all down and
prints a table. Exits 0 when every check passed, 1 when one failed, 2 when no dockerd answers (nothing was run).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from stacktest_api import StackClient, readyz_wait  # noqa: E402
from stacktest_compose import StackImages, StackPorts, compose_for_host_network, loopback_problems  # noqa: E402
from stacktest_docker import Stack, dockerd_answers, sh  # noqa: E402

WORKERS = ["worker1", "worker2"]
TRAINING_WORKER = "training-worker"  # the compose service for lab adaptations (queue "training")
SETTINGS = {
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "HTTPS": "false",
    "ALLLAB_DEVICE": "cpu",
    "OMP_NUM_THREADS": "1",
    "WEB_CONCURRENCY": "2",
    # Short limits so a killed worker's run is re-queued by the sweeper in about 90 s, not 11 minutes.
    "ALLLAB_TASK_SOFT_TIME_LIMIT": "30",
    "ALLLAB_SWEEP_EVERY_S": "10",
}
SUCCEEDED = re.compile(r"analyze_slide\[[0-9a-f-]+\] succeeded")
RECEIVED = re.compile(r"analyze_slide\[[0-9a-f-]+\] received")


class Report:
    """Rows of the summary table: what was checked, whether it held, and the numbers."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.rows.append((name, ok, detail))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)
        return ok

    def table(self) -> str:
        lines = ["| check | result | measured |", "|---|---|---|"]
        lines += [f"| {n} | {'ok' if ok else 'FAILED'} | {d} |" for n, ok, d in self.rows]
        return "\n".join(lines)


def smears(n: int) -> list[tuple[str, bytes]]:
    """``n`` smears: the BCCD demo JPEGs, then synthetic PNGs (tests/alllab/smear.py), in turn."""
    from tests.alllab.smear import smear_png

    bccd = sorted((ROOT / "demo" / "bccd").glob("*.jpg"))
    out = []
    for i in range(n):
        if i % 2 == 0 and bccd:
            path = bccd[(i // 2) % len(bccd)]
            out.append((path.name, path.read_bytes()))
        else:
            out.append((f"synthetic-{i}.png", smear_png(seed=i)))
    return out


def write_stack(*, workdir: Path, project: str, images: StackImages, ports: StackPorts) -> Stack:
    secrets = workdir / "secrets"
    if not secrets.exists():
        secrets.mkdir(mode=0o700)
        sh("bash", str(HERE / "make-secrets.sh"), str(secrets))
        password = (secrets / "postgres_password").read_text().strip()
        (secrets / "database_url").write_text(f"postgres://alllab:{password}@127.0.0.1:{ports.postgres}/alllab\n")
    prod = yaml.safe_load((HERE / "docker-compose.yml").read_text())
    compose = compose_for_host_network(
        prod, project=project, ports=ports, images=images, secrets_dir=secrets, workers=WORKERS, settings=SETTINGS
    )
    problems = loopback_problems(compose)
    if problems:
        raise AssertionError(f"the rewritten compose file leaves loopback: {problems}")
    path = workdir / f"{project}.yml"
    path.write_text(yaml.safe_dump(compose, sort_keys=False))
    return Stack(project=project, compose_file=path)


def workers_ready(stack: Stack, names: list[str], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    for name in names:
        while " ready." not in stack.logs(name):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready: {stack.logs(name)[-1500:]}")
            time.sleep(1)


def successes(stack: Stack) -> dict[str, int]:
    return {w: len(SUCCEEDED.findall(stack.logs(w))) for w in WORKERS}


def runs_of(stack: Stack, slide_ids: list[int]) -> list[dict]:
    ids = ",".join(str(i) for i in slide_ids)
    return stack.sql(
        "SELECT r.slide_id, r.id, r.status, r.attempts, r.worker,"
        " (SELECT count(*) FROM analysis_cell c WHERE c.run_id = r.id) AS cells,"
        # the summary counts whole cells only: border cells are stored and shown, left out of n_cells
        " (SELECT count(*) FROM analysis_cell c WHERE c.run_id = r.id AND NOT c.touches_border)"
        f" AS counted FROM analysis_analysisrun r WHERE r.slide_id IN ({ids}) ORDER BY r.slide_id"
    )


def finished_once(stack: Stack, slides: dict[int, dict]) -> tuple[bool, str]:
    runs = runs_of(stack, list(slides))
    per_slide = {}
    for run in runs:
        per_slide.setdefault(run["slide_id"], []).append(run)
    bad = [
        sid
        for sid, slide in slides.items()
        if len(per_slide.get(sid, [])) != 1
        or per_slide[sid][0]["status"] != "done"
        or per_slide[sid][0]["counted"] != (slide["n_cells"] or 0)
    ]
    attempts = sorted({r["attempts"] for r in runs})
    return not bad, f"{len(slides)} slides, one done run each, cells stored once; attempts seen {attempts}; bad {bad}"


def upload_batch(client: StackClient, case_id: int, items: list[tuple[str, bytes]], timeout_s: float):
    started = time.monotonic()
    ids = [client.slide_upload(case_id, filename=n, data=d)["id"] for n, d in items]
    done = client.slides_wait(ids, timeout_s=timeout_s)
    return done, max(s["finished_seen"] for s in done.values()) - started


def run_main_stack(stack: Stack, ports: StackPorts, report: Report, workdir: Path) -> dict:
    base = f"http://127.0.0.1:{ports.web}"
    started = time.monotonic()
    stack.up()
    waited, body = readyz_wait(base, want=200, timeout_s=600)
    report.check("cold start to /readyz 200", True, f"{time.monotonic() - started:.0f} s from `up` (fresh volumes)")
    workers_ready(stack, [*WORKERS, TRAINING_WORKER])
    banner = stack.logs(TRAINING_WORKER)
    report.check(
        "training worker up on its own queue",
        re.search(r"\.> training\s", banner) is not None and re.search(r"\.> celery\s", banner) is None,
        "training-worker consumes `training` only (lab adaptation; no adaptation is run here)",
    )

    users = {
        name: stack.exec(
            name,
            "sh",
            "-c",
            'echo "$(id -u) $HOME"; touch "$HOME/.probe" 2>/dev/null && echo writable || echo read-only',
        ).split()
        for name in ("web", WORKERS[0], TRAINING_WORKER)
    }
    report.check(
        "non-root, writable HOME",
        all(u[0] != "0" and u[-1] == "writable" for u in users.values()),
        "; ".join(f"{name}: uid {u[0]}, HOME {u[1]} {u[-1]}" for name, u in users.items()),
    )

    stack.manage(
        "shell", "-c", "from alllab.accounts.services import lab_create; lab_create(name='Stack', slug='stack')"
    )
    token = stack.manage("create_lis_client", "stack-lis", "--lab", "stack").strip().splitlines()[-1]
    client = StackClient(base, token)
    case = client.case_create("STACK-1")
    report.check("lab, LIS token and case via manage.py and the API", bool(case.get("id")), f"case {case['id']}")

    latencies = []
    for name, data in smears(4):
        t0 = time.monotonic()
        sid = client.slide_upload(case["id"], filename=name, data=data)["id"]
        done = client.slides_wait([sid], timeout_s=300, poll_s=0.2)
        latencies.append(done[sid]["finished_seen"] - t0)
        ok = done[sid]["status"] == "done"
    report.check(
        "upload to result, one at a time (4 smears)",
        ok,
        f"median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s",
    )
    detail = client.get_json(f"/api/v1/cases/{case['id']}/")
    fhir = client.get(f"/api/v1/cases/{case['id']}/fhir/")
    hl7 = client.get(f"/api/v1/cases/{case['id']}/hl7/")
    pdf = client.get(f"/api/v1/cases/{case['id']}/report.pdf")
    report.check(
        "JSON, FHIR, HL7 and PDF fetched",
        detail["summary"] is not None
        and fhir.status == 200
        and "resourceType" in fhir.json()
        and hl7.status == 200
        and hl7.body.startswith(b"MSH|")
        and pdf.body.startswith(b"%PDF"),
        f"summary n_cells {detail['summary'] and detail['summary']['n_cells']}, FHIR {fhir.status}, HL7 {hl7.status},"
        f" PDF {pdf.status}",
    )

    _fault_kill(stack, client, case["id"], report)
    _fault_redis(stack, client, case["id"], report, ports)
    _fault_postgres(stack, base, report)
    _throughput(stack, client, case["id"], report)
    return {"case_id": case["id"], "token": token, "before": _snapshot(client, case["id"])}


def _fault_kill(stack: Stack, client: StackClient, case_id: int, report: Report) -> None:
    from tests.alllab.smear import smear_png

    received = {w: len(RECEIVED.findall(stack.logs(w))) for w in WORKERS}
    sid = client.slide_upload(case_id, filename="big.png", data=smear_png(seed=99, size=(2400, 1800), n_white=40))["id"]
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        slide = client.slide(sid)
        if slide["status"] == "running":
            now = {w: len(RECEIVED.findall(stack.logs(w))) for w in WORKERS}
            victim = next((w for w in WORKERS if now[w] > received[w]), None)
        if slide["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    if victim is None:
        report.check("(a) worker killed mid-analysis", False, f"never caught running: {client.slide(sid)['status']}")
        return
    survivor = next(w for w in WORKERS if w != victim)
    succeeded_before = {w: len(SUCCEEDED.findall(stack.logs(w))) for w in WORKERS}
    stack.kill(victim)
    killed_at = time.monotonic()
    done = client.slides_wait([sid], timeout_s=400)
    ok, detail = finished_once(stack, done)
    run = runs_of(stack, [sid])[0]
    # Celery logs "succeeded" after the task has returned, so a moment after the slide reads done: wait for it.
    log_deadline = time.monotonic() + 60
    while (
        len(SUCCEEDED.findall(stack.logs(survivor))) <= succeeded_before[survivor] and time.monotonic() < log_deadline
    ):
        time.sleep(0.5)
    problems = [
        *([] if ok else [detail]),
        *([] if done[sid]["status"] == "done" else [f"slide {done[sid]['status']}"]),
        *([] if run["attempts"] == 2 else [f"attempts {run['attempts']} (want 2)"]),
        *(
            []
            if len(SUCCEEDED.findall(stack.logs(survivor))) > succeeded_before[survivor]
            else [f"{survivor} logged no success"]
        ),
        *(
            []
            if len(SUCCEEDED.findall(stack.logs(victim))) == succeeded_before[victim]
            else [f"{victim} logged a success"]
        ),
        *([] if run["worker"].startswith(f"{survivor}@") else [f"run.worker {run['worker']}"]),  # the last claimer
    ]
    report.check(
        "(a) docker kill a worker mid-analysis",
        not problems,
        f"killed {victim}; finished on {survivor} {done[sid]['finished_seen'] - killed_at:.0f} s later,"
        f" attempts {run['attempts']}, run.worker {run['worker']}, {run['cells']} cells ({run['counted']} whole)"
        + (f"; failed: {', '.join(problems)}" if problems else ""),
    )
    stack.start(victim)
    workers_ready(stack, WORKERS)


def _fault_redis(stack: Stack, client: StackClient, case_id: int, report: Report, ports: StackPorts) -> None:
    for service in ["beat", *WORKERS]:
        stack.stop(service)
    ids = [client.slide_upload(case_id, filename=n, data=d)["id"] for n, d in smears(4)]
    before = stack.redis(ports.redis, "llen", "celery")
    stack.restart("redis")
    stack.wait_healthy("redis", timeout_s=120)
    after = stack.redis(ports.redis, "llen", "celery")
    for service in [*WORKERS, "beat"]:
        stack.start(service)
    done = client.slides_wait(ids, timeout_s=400)
    ok, detail = finished_once(stack, done)
    report.check(
        "(b) restart Redis with 4 analyses queued",
        ok and before == after == "4",
        f"queue {before} -> {after}; {detail}",
    )


def _fault_postgres(stack: Stack, base: str, report: Report) -> None:
    web_before = stack.inspect("web")["State"]
    stack.stop("postgres")
    down_s, down_body = readyz_wait(base, want=503, timeout_s=60)
    stack.start("postgres")
    up_s, _ = readyz_wait(base, want=200, timeout_s=180)
    web_after = stack.inspect("web")["State"]
    same_web = web_before["StartedAt"] == web_after["StartedAt"] and web_after["Status"] == "running"
    report.check(
        "(c) restart PostgreSQL: /readyz 503 while down, 200 after, web not restarted",
        same_web and not down_body["checks"]["database"]["ok"],
        f"503 after {down_s:.1f} s ({down_body['checks']['database']['detail']}); 200 {up_s:.1f} s after start",
    )


def _throughput(stack: Stack, client: StackClient, case_id: int, report: Report) -> None:
    items = smears(20)
    before = successes(stack)
    done, took = upload_batch(client, case_id, items, timeout_s=900)
    after = successes(stack)
    in_logs = {w: after[w] - before[w] for w in WORKERS}
    # Who took each run, as the run itself records it (AnalysisRun.worker, "worker1@host"), checked against the logs.
    recorded = {w: 0 for w in WORKERS}
    for run in runs_of(stack, list(done)):
        node = run["worker"].split("@")[0]
        recorded[node] = recorded.get(node, 0) + 1
    ok, detail = finished_once(stack, done)
    report.check(
        "(d) 20 uploads, two workers",
        ok and all(recorded[w] for w in WORKERS) and sum(recorded.values()) == 20 and recorded == in_logs,
        f"{20 / took * 60:.1f} slides/min ({took:.0f} s); runs per worker (run.worker) {recorded}, in the logs"
        f" {in_logs}; {detail}",
    )
    stack.stop(WORKERS[1])
    done, took = upload_batch(client, case_id, items, timeout_s=900)
    ok, detail = finished_once(stack, done)
    report.check("20 uploads, one worker", ok, f"{20 / took * 60:.1f} slides/min ({took:.0f} s)")
    stack.start(WORKERS[1])


def _snapshot(client: StackClient, case_id: int) -> dict:
    detail = client.get_json(f"/api/v1/cases/{case_id}/")
    slide = detail["slides"][0]
    cells = client.get_json(f"/api/v1/slides/{slide['id']}/cells/")["results"]
    crops = {c["id"]: client.get(f"/api/v1/cells/{c['id']}/crop/").body for c in cells[:5]}
    pdf = client.get(f"/api/v1/cases/{case_id}/report.pdf")
    return {"summary": detail["summary"], "n_slides": detail["n_slides"], "cells": cells, "crops": crops, "pdf": pdf}


def backup_and_restore(stack: Stack, state: dict, *, workdir: Path, images: StackImages, ports: StackPorts, report):
    dump = workdir / "db.dump"
    media = workdir / "media.tar"
    dump.write_bytes(
        subprocess.run(
            ["docker", "exec", stack.container("postgres"), "pg_dump", "-U", "alllab", "-d", "alllab", "-Fc"],
            capture_output=True,
            check=True,
        ).stdout
    )
    volume = f"{stack.project}_media"
    media.write_bytes(
        subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                f"{volume}:/m:ro",
                images.web,
                "tar",
                "-C",
                "/m",
                "-cf",
                "-",
                ".",
            ],
            capture_output=True,
            check=True,
        ).stdout
    )
    stack.down()
    fresh = write_stack(workdir=workdir, project=stack.project + "r", images=images, ports=ports)
    try:
        fresh.up("postgres", "redis")
        fresh.wait_healthy("postgres", "redis", timeout_s=180)
        fresh.exec(
            "postgres",
            "pg_restore",
            "-U",
            "alllab",
            "-d",
            "alllab",
            "--no-owner",
            "--exit-on-error",
            input=dump.read_bytes(),
        )
        subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "-i",
                "--network",
                "none",
                "-v",
                f"{fresh.project}_media:/app/var/media",
                images.web,
                "tar",
                "-C",
                "/app/var/media",  # the image's folder, owned by alllab: a new volume takes its owner
                "-xf",
                "-",
            ],
            input=media.read_bytes(),
            check=True,
        )
        fresh.up("migrate", "web")
        readyz_wait(f"http://127.0.0.1:{ports.web}", want=200, timeout_s=300)
        after = _snapshot(StackClient(f"http://127.0.0.1:{ports.web}", state["token"]), state["case_id"])
        before = state["before"]
        same = (
            after["summary"] == before["summary"]
            and after["cells"] == before["cells"]
            and after["crops"] == before["crops"]
            and all(b.startswith(b"\x89PNG") for b in after["crops"].values())
            and after["pdf"].body.startswith(b"%PDF")
        )
        report.check(
            "backup (pg_dump + media volume) restored into a fresh stack",
            same,
            f"db {dump.stat().st_size / 1e6:.1f} MB, media {media.stat().st_size / 1e6:.1f} MB; report, "
            f"{len(after['cells'])} cells, {len(after['crops'])} crops identical",
        )
    finally:
        fresh.down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="Use images already built with --tag.")
    parser.add_argument("--tag", default="stack-test")
    parser.add_argument("--keep-images", action="store_true", help="Leave the images for the next run.")
    args = parser.parse_args()
    if not dockerd_answers():
        print("SKIP: no Docker daemon answers (start dockerd: see docs/deploy.md)")
        return 2
    images = StackImages(
        web=f"alllab-web:{args.tag}",
        worker=f"alllab-worker:{args.tag}-cpu",
        postgres=f"alllab-postgres:{args.tag}",
        redis=f"alllab-redis:{args.tag}",
    )
    report = Report()
    ports = StackPorts()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="alllab-stack-") as tmp:
        workdir = Path(tmp)
        stack = None
        try:
            if not args.no_build:
                t0 = time.monotonic()
                sh(
                    "env",
                    "TORCH=cpu",
                    f"TAG={args.tag}",
                    "bash",
                    str(HERE / "build-images.sh"),
                    "web",
                    "worker",
                    "postgres",
                    "redis",
                    timeout=7200,
                )
                report.check("images built", True, f"{time.monotonic() - t0:.0f} s")
            sizes = {i: sh("docker", "image", "inspect", "-f", "{{.Size}}", i).strip() for i in vars(images).values()}
            report.check("image sizes", True, ", ".join(f"{k} {int(v) / 1e6:.0f} MB" for k, v in sizes.items()))
            stack = write_stack(workdir=workdir, project="alllabstack", images=images, ports=ports)
            state = run_main_stack(stack, ports, report, workdir)
            backup_and_restore(stack, state, workdir=workdir, images=images, ports=ports, report=report)
        except Exception as exc:  # the table still prints, and the stack still goes
            traceback.print_exc()
            report.check("stack test ran to the end", False, f"{type(exc).__name__}: {str(exc)[:300]}")
        finally:
            if stack is not None:
                stack.down()
            if not args.keep_images and not args.no_build:
                subprocess.run(["docker", "rmi", *vars(images).values()], capture_output=True, check=False)
    networks = sh("docker", "network", "ls", "--format", "{{.Driver}}").split()
    report.check("no docker bridge network exists", "bridge" not in networks, ",".join(networks))
    print(f"\nstack test, {time.monotonic() - started:.0f} s in all\n\n{report.table()}")
    return 0 if all(ok for _, ok, _ in report.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
