"""Fixtures for the web app's tests: media in a temp dir, users in labs, a real Celery worker when asked for."""

from __future__ import annotations

import pytest

from tests.alllab.factories import LabFactory, MembershipFactory, UserFactory
from tests.alllab.worker import live_worker, worker_media, worker_process  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploads and crops go to a per-test temp dir, never to var/media; passwords hash fast."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests need no security


@pytest.fixture
def lab(db):
    return LabFactory(slug="north", name="North Haematology")


@pytest.fixture
def other_lab(db):
    return LabFactory(slug="south", name="South Haematology")


def _member(lab, role):
    user = UserFactory()
    MembershipFactory(user=user, lab=lab, role=role)
    return user


@pytest.fixture
def technician(lab):
    return _member(lab, "technician")


@pytest.fixture
def pathologist(lab):
    return _member(lab, "pathologist")


@pytest.fixture
def lab_admin(lab):
    return _member(lab, "lab_admin")


@pytest.fixture
def tech_client(client, technician):
    client.force_login(technician)
    return client
