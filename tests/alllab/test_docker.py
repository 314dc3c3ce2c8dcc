"""The compose file parses and wires what production needs (no Docker engine here to run it)."""

from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def test_it_describes_postgres_redis_web_and_a_gpu_worker():
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert services["beat"]["command"][:4] == ["celery", "-A", "alllab", "beat"]  # the sweeper's schedule
    assert "deploy" not in services["beat"]  # no GPU for a scheduler
    assert all("healthcheck" in services[name] for name in ["postgres", "redis", "web"])
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert set(compose["volumes"]) == {"pgdata", "redisdata", "media"}
    for name in ["web", "worker"]:
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:") and env["DATABASE_URL"].startswith("postgres://")
        assert (DOCKER.parent / services[name]["build"]["dockerfile"]).exists()


def test_it_ships_an_env_example_with_every_secret_named():
    names = {line.split("=")[0] for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line}
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"} <= names
