"""Session-wide test plumbing: every PostgreSQL connection says which process opened it, and the session's test
database is dropped even when a connection to it has outlived the process's use of it.

CI has twice printed pytest-django's teardown warning that the test database could not be dropped because "1 other
session" was using it, which leaves one ``test_*`` database behind on a shared server per such run. The
connections are named (``PGAPPNAME``, read by libpq) so that the warning below says whose it was.
"""

from __future__ import annotations

import os
import time
import warnings

import pytest

# Subprocesses (the Celery workers) inherit this unless they set their own; libpq reads it at connect.
os.environ.setdefault("PGAPPNAME", f"alllab-tests-{os.getpid()}")


def end_other_sessions(cursor, *, wait_s: float = 5.0) -> list[tuple]:
    """Terminate every other backend on the current database; return what they were (name, state, last query)."""
    cursor.execute(
        "SELECT pid, application_name, state, left(query, 120) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    others = cursor.fetchall()
    for pid, *_ in others:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + wait_s
    while others and time.monotonic() < deadline:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if cursor.fetchone()[0] == 0:
            break
        time.sleep(0.1)
    return others


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with any stray connection to it named and ended before it is dropped."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            others = end_other_sessions(cursor)
        connection.close()
    if others:
        warnings.warn(
            f"{len(others)} other connection(s) to the test database at teardown, ended so that it can be dropped: "
            + "; ".join(f"pid {pid} {name or '(unnamed)'} {state}: {query!r}" for pid, name, state, query in others),
            stacklevel=1,
        )
