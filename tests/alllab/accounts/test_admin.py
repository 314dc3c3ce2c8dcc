"""The admin site: lab admins manage their own lab's users; technicians and pathologists cannot enter."""

import pytest

from alllab.accounts.models import Membership
from tests.alllab.factories import MembershipFactory, UserFactory


@pytest.mark.parametrize("role_fixture", ["technician", "pathologist"])
def test_it_keeps_non_admins_out_of_the_admin(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))
    for url in ["/admin/", "/admin/auth/user/", "/admin/accounts/membership/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_it_lets_a_lab_admin_see_only_their_labs_users(client, lab_admin, technician, other_lab):
    stranger = UserFactory(username="stranger")
    MembershipFactory(user=stranger, lab=other_lab, role="technician")
    client.force_login(lab_admin)
    page = client.get("/admin/auth/user/")
    assert page.status_code == 200
    assert technician.username in page.text
    assert "stranger" not in page.text
    assert client.get(f"/admin/auth/user/{stranger.id}/change/").status_code == 302  # not in its queryset


def test_it_adds_a_user_to_the_lab_admins_lab(client, lab_admin, lab):
    client.force_login(lab_admin)
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "newtech", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert response.status_code == 302, response.content[:2000]
    membership = Membership.objects.get(user__username="newtech")
    assert (membership.lab, membership.role) == (lab, Membership.Role.TECHNICIAN)


def test_it_hides_superuser_fields_from_lab_admins(client, lab_admin, technician):
    client.force_login(lab_admin)
    page = client.get(f"/admin/auth/user/{technician.id}/change/")
    assert page.status_code == 200
    assert "is_superuser" not in page.text
