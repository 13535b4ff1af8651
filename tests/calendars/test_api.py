"""The calendars API (CALENDAR.md's endpoints): staff of the site connect a tenant, see its health, list its room
resources, link and unlink rooms, sync now, and disconnect. Credentials are write-only and encrypted at rest."""

from __future__ import annotations

import pytest

from bookings.models import Booking
from calendars.models import Connection, RoomCalendar
from tests.calendars.google_support import ALICE, OTHER_ROOM, ROOM, live_bookings, local
from tests.factories import PersonFactory, SiteFactory

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/calendars/connections/"


def _create(client, credentials, **overrides):
    body = {"provider": "google", "site": "cph", "name": "Workspace", "credentials": credentials, **overrides}
    return client.post(CONNECTIONS, body, format="json")


def test_staff_connect_a_google_workspace(staff_client, fake_google, google_credentials):
    response = _create(staff_client, google_credentials)

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("provider", "site", "name", "status")} == {
        "provider": "google",
        "site": "cph",
        "name": "Workspace",
        "status": "active",
    }
    assert "credentials" not in body and "private_key" not in response.content.decode()


def test_credentials_are_encrypted_at_rest(staff_client, fake_google, google_credentials):
    _create(staff_client, google_credentials)

    connection = Connection.objects.get()
    key = google_credentials["service_account"]["private_key"]
    assert "PRIVATE KEY" not in connection.credentials_ciphertext
    assert key.splitlines()[1] not in connection.credentials_ciphertext
    assert connection.credentials["service_account"]["private_key"] == key


def test_refused_credentials_are_a_400_naming_the_providers_answer(staff_client, fake_google, google_credentials):
    credentials = {**google_credentials, "subject": "nobody@labs.test"}

    response = _create(staff_client, credentials)

    assert response.status_code == 400
    assert "invalid_grant" in response.json()["detail"]
    assert not Connection.objects.exists()


def test_malformed_credentials_are_a_400(staff_client, fake_google):
    response = _create(staff_client, {"service_account": {"type": "user"}, "subject": "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert len(response.json()["credentials"]) == 2


@pytest.mark.parametrize("persona", ["member_client", "outsider_client", "mentor_client", "anon_client"])
def test_only_staff_see_or_make_connections(persona, request, google_connection):
    client = request.getfixturevalue(persona)
    assert client.get(CONNECTIONS).status_code in {401, 403}
    assert client.get(f"{CONNECTIONS}{google_connection.pk}/").status_code in {401, 403}


def test_staff_of_another_site_do_not_see_the_connection(google_connection):
    from rest_framework.test import APIClient

    other = PersonFactory(role="staff", company=None, site=SiteFactory(slug="aar"))
    client = APIClient()
    client.force_authenticate(other.user)

    assert client.get(CONNECTIONS).json()["results"] == []
    assert client.get(f"{CONNECTIONS}{google_connection.pk}/").status_code == 404
    assert _create(client, {}, site="cph").status_code in {400, 404}


def test_the_health_shows_each_rooms_sync(linked, staff_client, google_connection):
    body = staff_client.get(f"{CONNECTIONS}{google_connection.pk}/").json()

    [room] = body["rooms"]
    assert room["room"] == linked.room_id
    assert room["calendar_id"] == ROOM
    assert room["last_sync_at"] == "2026-03-02T08:00:00+01:00"
    assert room["last_sync_requests"] == 2  # the first sync: the listing and the channel
    assert room["watch_expires_at"] == "2026-03-09T08:00:00+01:00"
    assert room["error"] == ""
    assert body["status"] == "active"


def test_the_list_is_paginated_and_pins_its_queries(linked, staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        body = staff_client.get(CONNECTIONS).json()
    assert body["count"] == 1 and len(body["results"][0]["rooms"]) == 1


def test_the_providers_room_resources(google_connection, staff_client):
    rooms = staff_client.get(f"{CONNECTIONS}{google_connection.pk}/resources/").json()

    assert rooms == [
        {"calendar_id": ROOM, "name": "Fjord", "capacity": 6, "building": "HQ", "floor": "1"},
        {"calendar_id": OTHER_ROOM, "name": "Havn", "capacity": 10, "building": "HQ", "floor": "2"},
    ]


def test_linking_a_room(google_connection, fjord, staff_client, fake_google, committed):
    with committed():
        response = staff_client.put(
            f"/api/v1/rooms/{fjord.pk}/calendar/", {"connection": google_connection.pk, "calendar_id": ROOM}
        )

    assert response.status_code == 200
    assert response.json()["calendar_id"] == ROOM and response.json()["status"] == "pending"  # synced after commit
    assert RoomCalendar.objects.get(room=fjord).status == "ok"
    assert len(fake_google.active_channels(ROOM)) == 1
    again = staff_client.put(
        f"/api/v1/rooms/{fjord.pk}/calendar/", {"connection": google_connection.pk, "calendar_id": ROOM.upper()}
    )
    assert again.status_code == 200


def test_one_room_one_calendar_and_one_calendar_one_room(linked, google_connection, fjord, havn, staff_client):
    url = "/api/v1/rooms/{}/calendar/"
    other = staff_client.put(url.format(fjord.pk), {"connection": google_connection.pk, "calendar_id": OTHER_ROOM})
    taken = staff_client.put(url.format(havn.pk), {"connection": google_connection.pk, "calendar_id": ROOM})

    assert (other.status_code, other.json()["code"]) == (409, "conflict")
    assert (taken.status_code, taken.json()["code"]) == (409, "conflict")


def test_unlinking_keeps_the_bookings(linked, fake_google, fjord, alice, staff_client, committed):
    fake_google.user_event_create(
        ALICE, summary="Kept", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        staff_client.post(f"{CONNECTIONS}{linked.connection_id}/sync/")

    response = staff_client.delete(f"/api/v1/rooms/{fjord.pk}/calendar/")

    assert response.status_code == 204
    assert not RoomCalendar.objects.exists()
    assert [b.title for b in live_bookings(fjord)] == ["Kept"]
    assert staff_client.delete(f"/api/v1/rooms/{fjord.pk}/calendar/").status_code == 404


def test_sync_now_queues_every_linked_room(linked, staff_client, fake_google, committed):
    fake_google.log.clear()
    with committed():
        response = staff_client.post(f"{CONNECTIONS}{linked.connection_id}/sync/")

    assert (response.status_code, response.json()) == (202, {"queued": 1})
    assert len(fake_google.requests_for(ROOM)) == 1


def test_disconnecting_stops_the_channels_and_unlinks_the_rooms(
    linked, staff_client, fake_google, fjord, alice, committed
):
    fake_google.user_event_create(
        ALICE, summary="Kept", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        staff_client.post(f"{CONNECTIONS}{linked.connection_id}/sync/")

    response = staff_client.delete(f"{CONNECTIONS}{linked.connection_id}/")

    assert response.status_code == 204
    assert fake_google.active_channels(ROOM) == []
    assert not RoomCalendar.objects.exists() and not Connection.objects.exists()
    assert [b.title for b in Booking.objects.all()] == ["Kept"]


@pytest.mark.parametrize("persona", ["member_client", "outsider_client"])
def test_people_who_are_not_staff_cannot_link_list_or_sync(persona, request, google_connection, fjord):
    client = request.getfixturevalue(persona)

    link = client.put(f"/api/v1/rooms/{fjord.pk}/calendar/", {"connection": google_connection.pk, "calendar_id": ROOM})
    assert link.status_code == 403
    assert client.get(f"{CONNECTIONS}{google_connection.pk}/resources/").status_code == 403
    assert client.post(f"{CONNECTIONS}{google_connection.pk}/sync/").status_code == 403
    assert client.delete(f"{CONNECTIONS}{google_connection.pk}/").status_code == 403
    assert not RoomCalendar.objects.exists() and Connection.objects.exists()


def test_a_provider_failure_listing_rooms_is_a_502_naming_it(google_connection, staff_client, fake_google):
    fake_google.fail_next(1, status=500, reason="backendError")

    response = staff_client.get(f"{CONNECTIONS}{google_connection.pk}/resources/")

    assert (response.status_code, response.json()["code"]) == (502, "provider_error")
    assert "500 backendError" in response.json()["detail"]
