"""The README's commands run as written (issue 12 item 10), and `make run` says what it is doing while it installs."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_it_names_the_virtualenvs_python_for_manage_py_in_the_readme():
    commands = re.findall(r"`([^`]*manage\.py create_lis_client[^`]*)`", README)
    assert commands, "the README no longer shows create_lis_client"
    for command in commands:
        argv = shlex.split(command)
        assert argv[:2] == [".venv/bin/python", "manage.py"], command
        # as written, up to its placeholders: the interpreter and the command exist and parse their options
        done = subprocess.run([*argv[:3], "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "--lab" in done.stdout


def test_it_runs_the_engines_commands_with_the_virtualenvs_python():
    block = README.split("`inference/` runs without Django", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines()[1:] if line.strip()]
    assert lines and all(line.startswith(".venv/bin/python -m inference.") for line in lines), lines


def test_it_shows_progress_while_make_run_installs(tmp_path):
    # -n prints the recipe without running it; a fresh VENV path makes every install step due
    done = subprocess.run(
        ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    install = [line for line in done.stdout.splitlines() if "-r requirements.txt" in line]
    assert install and all("--quiet" not in line for line in install)
    assert "installing requirements.txt" in done.stdout


def test_the_readmes_cell_threshold_is_the_shipped_models():
    from inference import DEFAULT_WEIGHTS
    from inference.models import load_checkpoint

    quoted = re.search(r"stored cell threshold: (\d\.\d+) for the shipped model", README.replace("\n", " "))
    assert quoted, "the README no longer quotes the shipped model's cell threshold"
    shipped = load_checkpoint(DEFAULT_WEIGHTS).preprocessing.operating_point.cell_threshold
    assert quoted.group(1) == f"{shipped:.3f}"
