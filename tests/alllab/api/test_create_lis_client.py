"""``manage.py create_lis_client``: prints a working token alone on its last line; revokes; lists."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from alllab.accounts.models import LisClient

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = io.StringIO()
    call_command("create_lis_client", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_it_prints_a_working_token_alone_on_the_last_line(lab):
    token = _run("hospital-lis", "--lab", "north")[-1]
    assert token.startswith("alllab_") and " " not in token
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert c.get(reverse("api:case-list")).status_code == 200
    assert LisClient.objects.get(name="hospital-lis").lab == lab


def test_it_revokes_a_token(lab):
    token = _run("hospital-lis", "--lab", "north")[-1]
    assert "Revoked hospital-lis" in _run("hospital-lis", "--lab", "north", "--revoke")[-1]
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert c.get(reverse("api:case-list")).status_code == 401


def test_it_lists_clients_with_their_state(lab):
    _run("a-lis", "--lab", "north")
    _run("b-lis", "--lab", "north")
    _run("b-lis", "--lab", "north", "--revoke")
    lines = _run("--lab", "north", "--list")
    assert lines[0].startswith("a-lis\tactive\tlast used never")
    assert lines[1].startswith("b-lis\trevoked")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "--lab", "nowhere"), "No lab"),
        (("--lab", "north"), "NAME is required"),
        (("ghost", "--lab", "north", "--revoke"), "No client"),
    ],
)
def test_it_fails_clearly_on_bad_arguments(lab, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_it_refuses_a_duplicate_name_in_the_same_lab(lab):
    _run("dup", "--lab", "north")
    with pytest.raises(CommandError, match="already exists"):
        _run("dup", "--lab", "north")
