"""Production settings: ``manage.py check --deploy`` is clean with production variables; public secrets are refused."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path, **overrides) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "alllab.settings",
        "ALLLAB_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "alllab.lab.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://alllab.lab.example.org",
        "HTTPS": "true",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        **overrides,
    }


def test_it_passes_the_deploy_check_with_production_variables(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_warns_when_production_runs_without_https(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env(tmp_path, HTTPS="false"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "security.W004" in result.stderr + result.stdout  # no HSTS without TLS


@pytest.mark.parametrize(
    "secret",
    [None, "dev-only-insecure-key-do-not-use-in-production", "change-me-to-50-random-characters"],
    ids=["missing", "development-key", "env-example-placeholder"],
)
def test_it_refuses_to_start_with_a_public_or_missing_secret_key(tmp_path, secret):
    env = _env(tmp_path)
    if secret is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = secret
    result = subprocess.run(
        [sys.executable, "-c", "import alllab.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


def test_it_keeps_no_secret_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    suspicious = [
        name for name in tracked if Path(name).name in {".env", "secrets.json", "id_rsa"} or name.endswith(".pem")
    ]
    assert suspicious == []
    keys = subprocess.run(
        ["git", "grep", "-l", "-E", "BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert keys.stdout == ""
    example = (ROOT / "docker" / ".env.example").read_text()
    # The example carries no key at all: the containers read SECRET_KEY_FILE, a file made by make-secrets.sh that
    # git ignores.
    assert "SECRET_KEY_FILE" in example and not any(line.startswith("SECRET_KEY=") for line in example.splitlines())
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/secrets/secret_key"], cwd=ROOT)
    assert ignored.returncode == 0
