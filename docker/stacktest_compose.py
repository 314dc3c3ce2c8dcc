"""The production compose file, rewritten for the stack test: host networking on loopback, CPU workers, local images.

What changes, and only this (docs/deploy.md repeats the list):

- every service runs with ``network_mode: host`` and publishes no ports: no docker bridge, no private address; each
  server listens on 127.0.0.1 on a port of its own (PostgreSQL 15432, Redis 16379, web 18000 by default), so the
  machine's own PostgreSQL (5432) and Redis (6379) are never touched;
- postgres and redis run the Debian-package stand-ins (``docker/services.Dockerfile``), the app services the
  test's own image tags (CPU torch in the worker);
- the one GPU ``worker`` becomes one CPU service per named worker, told apart by ``CELERY_NODE_NAME`` (containers on
  the host network share the host's name, and Celery names a worker after it); ``training-worker`` stays one service,
  on CPU like them;
- the ``.env`` file is replaced by the test's settings, and the secrets come from the test's own folder.

Commands, the migrate step, depends_on conditions, healthchecks, volumes and secrets wiring stay as written.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

APP_SERVICES = ("migrate", "web", "worker", "training-worker", "beat")
WORKER_IMAGE_SERVICES = ("worker", "training-worker", "beat")


@dataclass(frozen=True)
class StackPorts:
    """Loopback ports of the stack's servers, away from the machine's own 5432, 6379 and 8000."""

    postgres: int = 15432
    redis: int = 16379
    web: int = 18000


@dataclass(frozen=True)
class StackImages:
    """Image tags the test built."""

    web: str
    worker: str
    postgres: str
    redis: str


def compose_for_host_network(
    prod: dict,
    *,
    project: str,
    ports: StackPorts,
    images: StackImages,
    secrets_dir: Path,
    workers: list[str],
    settings: dict[str, str],
) -> dict:
    """The stack test's compose file made from the production one (``prod``, as parsed YAML)."""
    compose = copy.deepcopy(prod)
    services: dict = compose["services"]
    redis_url = f"redis://127.0.0.1:{ports.redis}/0"
    for name, service in services.items():
        service.pop("ports", None)
        service.pop("networks", None)
        service.pop("deploy", None)  # the GPU reservation
        service.pop("env_file", None)
        service["network_mode"] = "host"
        service["container_name"] = f"{project}-{name}"
        if name in APP_SERVICES:
            env = dict(service.get("environment") or {})
            env.update(settings)
            env["REDIS_URL"] = redis_url
            service["environment"] = env
            service["image"] = images.worker if name in WORKER_IMAGE_SERVICES else images.web

    pg = services["postgres"]
    pg["image"] = images.postgres
    pg["environment"] = {**pg["environment"], "PGPORT": str(ports.postgres), "POSTGRES_LISTEN": "127.0.0.1"}
    redis = services["redis"]
    redis["image"] = images.redis
    redis["command"] = [*redis["command"], "--port", str(ports.redis), "--bind", "127.0.0.1"]
    redis["healthcheck"] = {
        **redis["healthcheck"],
        "test": ["CMD-SHELL", f"redis-cli -p {ports.redis} ping | grep -q PONG"],
    }
    web = services["web"]
    web["environment"].update({"PORT": str(ports.web), "BIND": "127.0.0.1"})

    template = services.pop("worker")
    for worker in workers:
        service = copy.deepcopy(template)
        service["container_name"] = f"{project}-{worker}"
        service["environment"]["CELERY_NODE_NAME"] = worker
        services[worker] = service

    for name, secret in compose.get("secrets", {}).items():
        secret["file"] = str(secrets_dir / name)
    compose.pop("networks", None)
    return compose


def loopback_problems(compose: dict) -> list[str]:
    """Everything in a compose file that would put traffic on a bridge or off loopback; empty when none."""
    problems = []
    if compose.get("networks"):
        problems.append("declares networks")
    for name, service in compose["services"].items():
        if service.get("network_mode") != "host":
            problems.append(f"{name}: network_mode is {service.get('network_mode')!r}, not host")
        if service.get("ports"):
            problems.append(f"{name}: publishes ports")
        for key, value in (service.get("environment") or {}).items():
            if "://" in str(value) and "127.0.0.1" not in str(value):
                problems.append(f"{name}: {key} points off loopback")
    return problems
