"""Each token has its own request budget; running one out answers 429 and leaves others alone."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_it_throttles_one_token_without_touching_another(api, other_api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lis_client": "3/min", "user": "3/min"},
    }
    url = reverse("api:case-list")
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(url)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert other_api.get(url).status_code == 200


def test_it_throttles_session_users_by_user(client, technician, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lis_client": "100/min", "user": "1/min"},
    }
    client.force_login(technician)
    url = reverse("api:case-list")
    assert [client.get(url).status_code for _ in range(2)] == [200, 429]
