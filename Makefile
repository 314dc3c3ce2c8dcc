# Two commands for a new machine: `make run` (the app on SQLite + a local broker) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: venv dev-deps run test lint browser clean images stack-test

$(BIN)/python:
	@echo "== creating $(VENV)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pip's own progress (one line per package) rather than --quiet: the first install takes minutes and should not look
# hung; the stamp makes a later `make run` skip pip until requirements.txt changes.
$(VENV)/.requirements.stamp: requirements.txt | $(BIN)/python
	@echo "== installing requirements.txt into $(VENV) (a few minutes the first time: torch, OpenCV, Django, ...)"
	$(BIN)/pip install --progress-bar on -r requirements.txt
	@touch $@ && echo "== requirements installed"

venv: $(VENV)/.requirements.stamp

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

# Production images (docker/build-images.sh; needs a running dockerd, never used by run or test). TORCH=cu128 is the
# production worker; on a machine without a GPU use `make images TORCH=cpu` (a CUDA torch is gigabytes).
TORCH ?= cu128
images:
	TORCH=$(TORCH) bash docker/build-images.sh web worker

# The production compose file run for real on loopback (docker/stack_test.py): builds CPU images, faults, backup and
# restore, teardown, a summary table. Needs dockerd; exits 2 (skipped) without one.
stack-test: venv
	$(BIN)/python docker/stack_test.py

clean:
	rm -rf $(VENV) var
