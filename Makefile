# Two commands for a new machine: `make run` (the app on SQLite + a local broker) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: venv dev-deps run test lint browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

dev-deps: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

# Debian's chromium for the Playwright tests (Playwright's own browser download cannot work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (browser tests will skip)"; fi; }

lint: dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

run: venv
	PORT=$(PORT) $(BIN)/python scripts/run_local.py

test: dev-deps browser
	bash scripts/test.sh

clean:
	rm -rf $(VENV) var
