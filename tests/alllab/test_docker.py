"""The compose file, the Dockerfile and the stack test's host-network rewrite (no Docker engine needed here)."""

import importlib.util
import sys
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _stacktest_compose():
    spec = importlib.util.spec_from_file_location("stacktest_compose", DOCKER / "stacktest_compose.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stacktest_compose"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _prod():
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def test_it_describes_postgres_redis_a_migrate_step_web_a_gpu_worker_a_training_worker_and_beat():
    services = _prod()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "training-worker", "beat"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in [
        "web",
        "worker",
        "training-worker",
        "beat",
    ]:  # nothing uses the schema before the one migrate step has finished
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["beat"]["command"][:4] == ["celery", "-A", "alllab", "beat"]
    assert "deploy" not in services["beat"]
    assert all("healthcheck" in services[name] for name in ["postgres", "redis", "web"])
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert services["worker"]["image"].endswith("${ALLLAB_TORCH:-cu128}")  # CUDA is the production default


def test_it_runs_lab_adaptations_on_a_training_worker_of_their_own(settings):
    services = _prod()["services"]
    training = services["training-worker"]
    assert training["image"] == services["worker"]["image"]  # the same image, another command
    command = training["command"][-1]
    assert f"-Q {settings.ALLLAB_TRAINING_QUEUE} " in command and "--concurrency 1" in command
    assert settings.CELERY_TASK_ROUTES["alllab.analysis.adapt_lab_model"]["queue"] == settings.ALLLAB_TRAINING_QUEUE
    assert "command" not in services["worker"]  # the analysis worker: the image's CMD, the default queue only
    # Its node name is the one the image's healthcheck pings ("$CELERY_NODE_NAME@$(hostname)").
    assert training["environment"]["CELERY_NODE_NAME"] == "training" and '"$$CELERY_NODE_NAME@%h"' in command


def test_it_takes_every_secret_from_a_file():
    compose = _prod()
    assert set(compose["secrets"]) == {"secret_key", "postgres_password", "database_url"}
    for name in ["migrate", "web", "worker", "training-worker", "beat"]:
        env = compose["services"][name]["environment"]
        assert env["SECRET_KEY_FILE"] == "/run/secrets/secret_key" and "SECRET_KEY" not in env
        assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url" and "DATABASE_URL" not in env
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    example = (DOCKER / ".env.example").read_text()
    names = {line.split("=")[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert "ALLOWED_HOSTS" in names and not names & {"SECRET_KEY", "POSTGRES_PASSWORD", "DATABASE_URL"}


def test_it_builds_a_non_root_web_without_torch_and_runs_no_migrations_in_it():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    web = dockerfile.split("FROM runtime AS web")[1].split("FROM deps-web AS deps-worker")[0]
    assert "USER alllab" in web and "collectstatic" in web and "HEALTHCHECK" in web
    assert "migrate" not in web.split("CMD")[-1]
    assert "sed '/^torch==/d'" in dockerfile  # the web's dependencies leave torch out
    assert "ARG TORCH_VARIANT=cu128" in dockerfile
    worker = dockerfile.split("FROM runtime AS worker")[1]
    for stage in (web, worker):  # the non-root user's HOME is writable (fontconfig and torch write caches there)
        assert "USER alllab" in stage and "HOME=/tmp" in stage


def test_it_rewrites_the_stack_for_loopback_only():
    mod = _stacktest_compose()
    images = mod.StackImages(web="w:t", worker="k:t", postgres="p:t", redis="r:t")
    compose = mod.compose_for_host_network(
        _prod(),
        project="st",
        ports=mod.StackPorts(),
        images=images,
        secrets_dir=Path("/tmp/s"),
        workers=["worker1", "worker2"],
        settings={"ALLLAB_DEVICE": "cpu"},
    )
    assert mod.loopback_problems(compose) == []
    services = compose["services"]
    assert {"worker1", "worker2"} <= set(services) and "worker" not in services
    assert services["worker1"]["environment"]["CELERY_NODE_NAME"] == "worker1"
    assert services["training-worker"]["image"] == "k:t" and services["training-worker"]["network_mode"] == "host"
    assert services["redis"]["command"][-4:] == ["--port", "16379", "--bind", "127.0.0.1"]
    assert services["web"]["environment"]["BIND"] == "127.0.0.1"
    assert all("deploy" not in s and "ports" not in s for s in services.values())
    assert compose["secrets"]["secret_key"]["file"] == "/tmp/s/secret_key"


def test_it_finds_a_bridge_or_an_address_off_loopback():
    mod = _stacktest_compose()
    bad = {"services": {"web": {"ports": ["8000:8000"], "environment": {"REDIS_URL": "redis://redis:6379/0"}}}}
    assert len(mod.loopback_problems(bad)) == 3


def test_the_stack_test_counts_a_slide_finished_once_by_its_whole_cells():
    spec = importlib.util.spec_from_file_location("stack_test", DOCKER / "stack_test.py")
    stack_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack_test)

    class Runs:  # the rows Stack.sql gives for runs_of
        def __init__(self, rows):
            self.rows = rows

        def sql(self, query):
            assert "NOT c.touches_border" in query
            return self.rows

    slide = {7: {"n_cells": 3}}  # the summary leaves border cells out of n_cells
    one = {"slide_id": 7, "id": 1, "status": "done", "attempts": 2, "worker": "worker2@vm", "cells": 5, "counted": 3}
    assert stack_test.finished_once(Runs([one]), slide)[0]
    assert not stack_test.finished_once(Runs([{**one, "counted": 5}]), slide)[0]  # cells stored twice
    assert not stack_test.finished_once(Runs([one, {**one, "id": 2}]), slide)[0]  # two runs of one slide
    assert not stack_test.finished_once(Runs([{**one, "status": "failed"}]), slide)[0]
