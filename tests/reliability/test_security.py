"""Security: every URL needs a login or a token (the test walks them all), CSRF on forms, roles, lockout, headers."""

from __future__ import annotations

import pytest
from django.test import Client

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case
from tests.alllab.factories import PASSWORD, AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory
from tests.reliability.urlwalk import all_paths

pytestmark = pytest.mark.django_db

# The only doors open without a login or a token: the login forms (and logging out) and the health checks.
PUBLIC = {"/accounts/login/", "/admin/login/", "/healthz", "/readyz"}
PUBLIC_NO_DATA = {"/accounts/logout/", "/admin/logout/"}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")


def _refused(response) -> bool:
    """A 401/403, or a redirect to a login page; never content."""
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302):
        return response["Location"].split("?")[0].endswith(LOGIN_PAGES)
    return False


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_requires_a_login_or_token_on_every_url(client, method, monkeypatch):
    from alllab.health import views as health

    monkeypatch.setattr(health, "broker_check", lambda: (True, "ok"))
    paths = all_paths()
    assert len(paths) > 60 and {p for p, _ in paths} >= PUBLIC  # the walk really covers the project
    leaks = []
    for path, name in paths:
        if path in PUBLIC | PUBLIC_NO_DATA:
            continue
        response = getattr(client, method)(path)
        if name == "api:not-found" and response.status_code == 404:
            continue  # the API's catch-all: unknown paths answer a JSON 404 to anyone
        if not _refused(response):
            leaks.append(f"{method.upper()} {path} ({name}): {response.status_code}")
    assert leaks == [], "\n".join(leaks)


def test_it_keeps_its_public_doors_to_login_and_health(client, monkeypatch):
    from alllab.health import views as health

    monkeypatch.setattr(health, "broker_check", lambda: (True, "ok"))
    for path in sorted(PUBLIC):
        assert client.get(path).status_code == 200, path


def test_it_refuses_a_form_post_without_the_csrf_token(technician, pathologist, lab):
    case = CaseFactory(lab=lab, created_by=technician)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(technician)
    assert (
        strict.post("/cases/new/", {"lab": lab.id, "accession_number": "X-1", "patient_pseudonym": "P"}).status_code
        == 403
    )
    assert strict.post(f"/cases/{case.id}/slides/", {}).status_code == 403
    assert strict.post("/api/v1/cases/", {"accession_number": "X-2"}).status_code == 403  # session auth: CSRF too
    strict.force_login(pathologist)
    assert strict.post(f"/review/cases/{case.id}/sign/", {}).status_code == 403
    assert not Case.objects.filter(accession_number__startswith="X-").exists()


def test_it_puts_the_csrf_token_in_every_form(tech_client):
    page = tech_client.get("/cases/new/")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in page.text


def test_it_lets_only_pathologists_sign_and_only_lab_admins_manage_users(
    client, technician, pathologist, lab_admin, lab
):
    case = CaseFactory(lab=lab, created_by=technician, status=Case.Status.AWAITING_REVIEW)
    slide = SlideFactory(case=case)
    run = AnalysisRunFactory(slide=slide, status=AnalysisRun.Status.DONE, n_cells=1, n_blast=0)
    CellFactory(run=run)
    client.force_login(technician)
    assert client.post(f"/review/cases/{case.id}/sign/", {"password": PASSWORD}).status_code == 403
    case.refresh_from_db()
    assert case.status != Case.Status.SIGNED_OFF
    client.force_login(pathologist)
    for path in ["/admin/", "/admin/auth/user/", "/admin/accounts/membership/add/"]:
        assert _refused(client.get(path)), path
    assert (
        client.post("/cases/new/", {"lab": lab.id, "accession_number": "P-1", "patient_pseudonym": "P"}).status_code
        == 403
    )
    client.force_login(lab_admin)
    assert client.get("/admin/auth/user/").status_code == 200


def test_it_locks_a_user_name_out_after_five_wrong_passwords(client, technician, pathologist):
    for _ in range(4):
        response = client.post("/accounts/login/", {"username": technician.username, "password": "wrong-guess-1"})
        assert response.status_code == 200  # the form again, "please enter a correct user name and password"
    fifth = client.post("/accounts/login/", {"username": technician.username, "password": "wrong-guess-1"})
    assert fifth.status_code == 429
    locked = client.post("/accounts/login/", {"username": technician.username, "password": PASSWORD})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session  # even the right password now
    other = Client().post("/accounts/login/", {"username": pathologist.username, "password": PASSWORD})
    assert other.status_code == 302  # another user is not locked out with them
    session = other.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax"


def test_it_sends_the_security_headers(tech_client):
    response = tech_client.get("/cases/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def _audit_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "audit_deps.py"
    spec = importlib.util.spec_from_file_location("audit_deps", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("report", "strict", "code", "says"),
    [
        ({"dependencies": [{"name": "django", "version": "1.0", "vulns": [{"id": "PYSEC-1"}]}]}, False, 1, "PYSEC-1"),
        ({"dependencies": [{"name": "django", "version": "5.2", "vulns": []}]}, False, 0, "no known vulnerabilities"),
        ({"dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI"}]}, False, 0, "NOT DONE"),
        ({"dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI"}]}, True, 1, "NOT DONE"),
    ],
    ids=["vulnerable-fails", "clean-passes", "unreachable-reported", "unreachable-strict-fails"],
)
def test_it_fails_the_dependency_audit_only_on_a_known_vulnerability(monkeypatch, capsys, report, strict, code, says):
    import json
    import subprocess

    audit = _audit_module()
    monkeypatch.setenv("AUDIT_STRICT", "1" if strict else "0")
    done = subprocess.CompletedProcess([], 1 if code else 0, stdout=json.dumps(report), stderr="")
    monkeypatch.setattr(audit.subprocess, "run", lambda *a, **k: done)
    assert audit.main() == code
    assert says in capsys.readouterr().out


def test_it_reports_a_hung_dependency_audit_instead_of_hanging(monkeypatch, capsys):
    import subprocess

    audit = _audit_module()

    def hang(cmd, **kwargs):
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(audit.subprocess, "run", hang)
    assert audit.main() == 0 and "did not finish" in capsys.readouterr().out


def test_it_keeps_inline_script_out_of_every_template():
    """The policy allows no inline script; a handler attribute or a script block in a template would not run."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>|\son[a-z]+\s*=", re.I)
    offenders = [
        str(path.relative_to(root))
        for path in [*root.glob("templates/**/*.html"), *root.glob("alllab/*/templates/**/*.html")]
        if "pdf" not in path.name and inline.search(path.read_text())
    ]
    assert offenders == []
