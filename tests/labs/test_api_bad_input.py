"""Bad input anywhere in the public API is a 4xx with a JSON code, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

JUNK = ["abc", "", "-1", "1.5", "2026-13-45", "99999999999999999999", "'; DROP TABLE x; --", "\x00", "[]"]

GET_PATHS = [
    "/api/v1/rooms/?capacity_min={v}&site={v}&amenity={v}&floor={v}",
    "/api/v1/rooms/?free_from={v}&free_to={v}",
    "/api/v1/rooms/{v}/availability/?date={v}",
    "/api/v1/desks/?site={v}&free_from={v}&free_to=2026-01-01T10:00:00Z",
    "/api/v1/bookings/?start={v}&end={v}&room={v}&desk={v}",
    "/api/v1/bookings/{v}/",
    "/api/v1/devices/?kind={v}&site={v}",
    "/api/v1/devices/{v}/",
    "/api/v1/commands/{v}/",
    "/api/v1/sites/{v}/",
]

POST_BODIES = [
    ("/api/v1/bookings/", {"room": "{v}", "start": "{v}", "end": "{v}", "title": "x"}),
    ("/api/v1/visits/", {"name": "{v}", "email": "{v}", "site": "{v}", "start": "{v}", "end": "{v}"}),
    ("/api/v1/badges/", {"person": "{v}", "kind": "{v}", "card_uid": "{v}"}),
    ("/api/v1/auth/token/", {"username": "{v}", "password": "{v}"}),
]


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize("template", GET_PATHS)
def test_junk_in_queries_and_ids_is_never_a_500(staff_client, template, value):
    from urllib.parse import quote

    response = staff_client.get(template.format(v=quote(value, safe="")))
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert "code" in response.json()


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize("path,body", POST_BODIES)
def test_junk_in_bodies_is_a_json_4xx(staff_client, path, body, value):
    payload = {key: template.format(v=value) for key, template in body.items()}
    response = staff_client.post(path, payload, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert "code" in response.json()
