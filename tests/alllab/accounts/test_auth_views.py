"""Sign in, sign out and password change with Django's views and our templates."""

from tests.alllab.factories import PASSWORD


def test_it_signs_in_and_out(client, technician):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and 'name="username"' in page.text
    response = client.post("/accounts/login/", {"username": technician.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/cases/").status_code == 302


def test_it_rejects_a_wrong_password(client, technician):
    response = client.post("/accounts/login/", {"username": technician.username, "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.text


def test_it_changes_a_password(tech_client, technician):
    response = tech_client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "another-long-pass-77", "new_password2": "another-long-pass-77"},
    )
    assert response.status_code == 302
    technician.refresh_from_db()
    assert technician.check_password("another-long-pass-77")
