"""Driving one compose project of the stack test: up, stop, kill, exec, logs, SQL, and tearing it all down."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

DOCKER = "docker"
COMPOSE = "docker-compose"


def sh(*args: str, input: bytes | None = None, check: bool = True, timeout: float = 600) -> str:  # noqa: A002
    """Run a command; its stdout as text. A failure raises with the command's stderr."""
    proc = subprocess.run(args, input=input, capture_output=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout.decode(errors="replace")


def dockerd_answers() -> bool:
    try:
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Stack:
    """One compose project (its own containers and volumes) from a generated compose file."""

    def __init__(self, *, project: str, compose_file: Path) -> None:
        self.project = project
        self.compose_file = compose_file

    def compose(self, *args: str, timeout: float = 600) -> str:
        return sh(COMPOSE, "--no-ansi", "-p", self.project, "-f", str(self.compose_file), *args, timeout=timeout)

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"

    def up(self, *services: str) -> None:
        self.compose("up", "-d", "--no-build", *services)

    def down(self) -> None:
        """Containers and volumes of the project, gone (errors ignored: teardown must go on)."""
        try:
            self.compose("down", "-v", "--remove-orphans", "--timeout", "10")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  teardown of {self.project}: {exc}")

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 600) -> str:  # noqa: A002
        return sh(DOCKER, *args, input=input, timeout=timeout)

    def stop(self, service: str) -> None:
        self.docker("stop", "--time", "20", self.container(service))

    def start(self, service: str) -> None:
        self.docker("start", self.container(service))

    def kill(self, service: str) -> None:
        self.docker("kill", self.container(service))

    def restart(self, service: str) -> None:
        self.docker("restart", "--time", "20", self.container(service))

    def inspect(self, service: str) -> dict:
        return json.loads(self.docker("inspect", self.container(service)))[0]

    def health(self, service: str) -> str:
        state = self.inspect(service)["State"]
        return state.get("Health", {}).get("Status", state["Status"])

    def wait_healthy(self, *services: str, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        for service in services:
            while self.health(service) != "healthy":
                if time.monotonic() > deadline:
                    raise AssertionError(f"{service} not healthy within {timeout_s:.0f} s: {self.health(service)}")
                time.sleep(1)

    def logs(self, service: str) -> str:
        proc = subprocess.run([DOCKER, "logs", self.container(service)], capture_output=True, timeout=60, check=False)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def exec(self, service: str, *args: str, input: bytes | None = None, timeout: float = 300) -> str:  # noqa: A002
        flags = ["-i"] if input is not None else []
        return self.docker("exec", *flags, self.container(service), *args, input=input, timeout=timeout)

    def manage(self, *args: str) -> str:
        """``manage.py`` in the web container, with the web's own environment and secrets."""
        return self.exec("web", "python", "manage.py", *args)

    def sql(self, query: str) -> list:
        """Rows of a query as JSON (psql in the postgres container, over its socket)."""
        wrapped = f"SELECT coalesce(json_agg(t), '[]'::json) FROM ({query}) t"
        return json.loads(self.exec("postgres", "psql", "-U", "alllab", "-d", "alllab", "-At", "-c", wrapped))

    def redis(self, port: int, *args: str) -> str:
        return self.exec("redis", "redis-cli", "-p", str(port), *args).strip()
