"""Tokens: hashed, scoped to one lab, revocable, recorded when used; sessions work for signed-in users."""

import pytest
from django.urls import reverse

from alllab.accounts.models import LisClient
from alllab.api.services import lis_client_revoke
from alllab.api.tokens import token_hash

pytestmark = pytest.mark.django_db
CASES = reverse("api:case-list")


def test_it_answers_401_in_the_error_shape_without_credentials(anon):
    response = anon.get(CASES)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer alllab_0123456789ab_" + "x" * 43, "Token alllab_zz_short"],
    ids=["malformed", "unknown", "bad-token-scheme"],
)
def test_it_answers_401_for_a_bad_token(anon, lis, header):
    anon.credentials(HTTP_AUTHORIZATION=header)
    response = anon.get(CASES)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_it_answers_401_for_the_right_lookup_with_the_wrong_secret(anon, lis):
    client, token = lis
    forged = token[:-43] + ("A" if token[-43] != "A" else "B") + token[-42:]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert anon.get(CASES).status_code == 401


def test_it_accepts_a_valid_token_and_records_its_use(api, lis):
    client, _ = lis
    assert client.last_used_at is None
    assert api.get(CASES).status_code == 200
    client.refresh_from_db()
    assert client.last_used_at is not None


def test_it_stores_only_the_hash_of_the_token(lis):
    client, token = lis
    row = LisClient.objects.get(pk=client.pk)
    assert row.token_hash == token_hash(token)
    assert token not in {row.prefix, row.token_hash, row.name}
    assert token.startswith(f"alllab_{row.prefix}_")


def test_it_refuses_a_revoked_token(api, lis):
    assert api.get(CASES).status_code == 200
    lis_client_revoke(client=lis[0])
    response = api.get(CASES)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_it_gives_the_service_user_no_password_login(lis):
    assert not lis[0].user.has_usable_password()


def test_it_accepts_a_session_for_a_lab_member(tech_client):
    assert tech_client.get(CASES).status_code == 200


def test_it_serves_the_schema_to_a_lis_token_only(anon, api):
    assert anon.get(reverse("api:schema")).status_code == 401
    response = api.get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
