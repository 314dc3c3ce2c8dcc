"""Fixtures of the reliability and security tests: the web app's users and labs, an API token per lab."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from alllab.api.services import lis_client_create
from tests.alllab.conftest import (  # noqa: F401 (fixtures)
    _media_root,
    lab,
    lab_admin,
    other_lab,
    pathologist,
    tech_client,
    technician,
)
from tests.alllab.worker import worker_media  # noqa: F401 (fixtures)
from tests.reliability.workers import fault_queue, fault_worker  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # throttle and lockout counters live in the cache; one test must not spend another's budget
    yield
    cache.clear()


@pytest.fixture
def api(lab):  # noqa: F811 (the fixture imported above)
    """An API client holding a LIS token of ``lab``."""
    _, token = lis_client_create(name="north-lis", lab=lab)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def sent(monkeypatch):
    """Run ids handed to the broker (nothing is really sent)."""
    from alllab.analysis import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: ids.append(run_id))
    return ids
