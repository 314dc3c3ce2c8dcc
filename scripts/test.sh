#!/usr/bin/env bash
# Lint, Django's own checks, then every test. Called by `make test` and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

# PostgreSQL and Redis run on CI's machines; use them when they answer, SQLite and a SQLite broker file otherwise.
if [ -z "${DATABASE_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
fi
if [ -z "${REDIS_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  # A Redis database picked by this run's pid (1-15): two test runs on one machine rarely share a queue, and a test
  # worker never takes another run's tasks (whose run ids point into another test database).
  export REDIS_URL="redis://127.0.0.1:6379/$(($$ % 15 + 1))"
fi
# Without Redis, the worker tests use a broker file of their own, never the one `make run` uses.
if [ -z "${REDIS_URL:-}" ] && [ -z "${CELERY_BROKER_URL:-}" ]; then
  mkdir -p var
  export CELERY_BROKER_URL="sqla+sqlite:///$PWD/var/test-broker.sqlite3"
fi
echo "database: ${DATABASE_URL:-sqlite (default)}  broker: ${REDIS_URL:-$CELERY_BROKER_URL}"

"$BIN/ruff" check .
"$BIN/ruff" format --check .
# Types of the engine (inference/) and the app's services and selectors: the files are listed in pyproject.toml.
"$BIN/mypy"
"$BIN/python" manage.py check
"$BIN/python" manage.py makemigrations --check --dry-run
# Known vulnerabilities in installed packages fail the run; an unreachable vulnerability service is reported, not hung on.
"$BIN/python" scripts/audit_deps.py
"$BIN/python" -m pytest "$@"
