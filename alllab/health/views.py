"""``/readyz``: ready to serve, meaning the database answers, the broker answers, and the model is there.

``/healthz`` (``alllab.dashboard.views.health_view``) says the process is up; a load balancer routes traffic by
``/readyz``, and an orchestrator restarts a container by ``/healthz``. Neither needs a login, and neither says more
than ok or failed with a short reason (no versions of the software, no host names).
"""

from __future__ import annotations

import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from alllab.analysis.readiness import model_check

BROKER_TIMEOUT_S = 2.0  # a load balancer polls every few seconds: answer before it gives up


def database_check() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database trouble means not ready
        return False, f"database: {type(exc).__name__}"
    return True, "ok"


def broker_check() -> tuple[bool, str]:
    from alllab.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    except Exception as exc:  # unreachable, refused, authentication...
        return False, f"broker: {type(exc).__name__}"
    return True, "ok"


@never_cache
@require_GET
def ready_view(request: HttpRequest) -> JsonResponse:
    """200 with each check when all pass, else 503 naming the failed ones."""
    started = time.monotonic()
    checks = {}
    for name, check in (("database", database_check), ("broker", broker_check), ("model", model_check)):
        ok, detail = check()
        checks[name] = {"ok": ok, "detail": detail}
    ready = all(c["ok"] for c in checks.values())
    body = {"ready": ready, "checks": checks, "took_ms": round(1000 * (time.monotonic() - started), 1)}
    return JsonResponse(body, status=200 if ready else 503)
