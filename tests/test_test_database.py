"""The session teardown that ends stray connections (``tests/conftest.py``), on a scratch database of its own: on the
session's test database it would also end the live Celery worker's connection."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.conftest import end_other_sessions

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL)")


def _connect(dbname: str, appname: str):
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        dbname=dbname,
        user=s["USER"] or None,
        password=s["PASSWORD"] or None,
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        application_name=appname,
        autocommit=True,
    )


def test_it_names_and_ends_the_other_connections_to_its_database():
    scratch = f"alllab_stray_probe_{os.getpid()}"
    admin = _connect("postgres", "probe-admin")
    admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
    admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        stray = _connect(scratch, "probe-stray")
        mine = _connect(scratch, "probe-teardown")
        assert os.environ["PGAPPNAME"].startswith("alllab-tests-")  # what an unnamed test connection is called
        others = end_other_sessions(mine.cursor())
        assert [(name, state) for _pid, name, state, _query in others] == [("probe-stray", "idle")]
        with pytest.raises(psycopg_errors()):
            stray.execute("SELECT 1")
        assert end_other_sessions(mine.cursor()) == []  # nothing left, and nothing to wait for
        mine.close()
        admin.execute(f'DROP DATABASE "{scratch}"')  # would fail with "being accessed by other users" otherwise
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


def psycopg_errors() -> tuple[type[Exception], ...]:
    import psycopg

    return (psycopg.OperationalError, psycopg.InterfaceError)
