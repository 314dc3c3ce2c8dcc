"""``/healthz`` and ``/readyz``: no login, short answers, 503 naming what is not ready."""

import pytest

from alllab.analysis import readiness
from alllab.health import views

pytestmark = pytest.mark.django_db


def test_it_answers_health_and_readiness_without_a_login(client, monkeypatch):
    monkeypatch.setattr(views, "broker_check", lambda: (True, "ok"))
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ready"] is True and set(body["checks"]) == {"database", "broker", "model"}
    assert "efficientnet_lite0" in body["checks"]["model"]["detail"] and response["Cache-Control"].startswith(
        "max-age=0"
    )


def test_it_is_not_ready_when_the_broker_is_unreachable(client, monkeypatch):
    from kombu import Connection

    from alllab.celery import app

    monkeypatch.setattr(views, "BROKER_TIMEOUT_S", 0.5)
    # A real refused connection: nothing listens on port 1 of the loopback.
    monkeypatch.setattr(app, "connection_for_write", lambda: Connection("redis://127.0.0.1:1/0"))
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False and checks["database"]["ok"] is True


def test_it_is_not_ready_without_the_model_weights(client, monkeypatch, settings, tmp_path):
    monkeypatch.setattr(views, "broker_check", lambda: (True, "ok"))
    settings.ALLLAB_WEIGHTS = str(tmp_path / "missing.pt")
    body = client.get("/readyz").json()
    assert body["ready"] is False and "missing.pt" in body["checks"]["model"]["detail"]
    (tmp_path / "missing.pt").write_bytes(b"")
    assert readiness.model_check() == (False, "weights file is empty: missing.pt")
