"""Graph's push endpoints: the validation handshake, then clientState-checked items queue work for their calendar."""

from __future__ import annotations

import json
import logging
import time

import pytest
from rest_framework.test import APIClient

from calendars import services
from calendars.models import Connection, RoomCalendar
from tests.bookings.factories import RoomFactory

NOTIFICATIONS = "/api/v1/calendars/microsoft/notifications/"
LIFECYCLE = "/api/v1/calendars/microsoft/lifecycle/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "watch_notified", lambda *, calendar_id, kind: calls.append((calendar_id, kind)))
    return calls


@pytest.fixture
def client():  # noqa: D103
    return APIClient(enforce_csrf_checks=True)  # Graph has no session and no CSRF token


@pytest.fixture
def calendar(site):
    connection = Connection(site=site, provider="microsoft", name="Operator M365")
    connection.credentials = {"tenant_id": "contoso.test", "client_id": "x", "client_secret": "y"}
    connection.save()
    return RoomCalendar.objects.create(
        connection=connection,
        room=RoomFactory(site=site, name="Fjord"),
        calendar_id="fjord@contoso.test",
        watch_id="sub-1",
        watch_token="the-client-state",
    )


def post(client, path, items):
    return client.post(path, data=json.dumps({"value": items}), content_type="application/json")


def item(**overrides):
    return {
        "subscriptionId": "sub-1",
        "clientState": "the-client-state",
        "changeType": "updated",
        "resource": "Users/u/Events/e",
        **overrides,
    }


@pytest.mark.parametrize("path", [NOTIFICATIONS, LIFECYCLE])
def test_the_validation_token_is_echoed_as_plain_text(client, path, queued):
    token = "Validation: Testing client application reachability <&> for subscription Request-Id: 42"

    response = client.post(f"{path}?validationToken={token.replace('&', '%26')}", content_type="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == token
    assert queued == []


def test_a_change_with_the_right_client_state_queues_a_sync_of_its_calendar(client, calendar, queued):
    began = time.monotonic()
    response = post(client, NOTIFICATIONS, [item()])

    assert response.status_code == 202
    assert time.monotonic() - began < 3
    assert queued == [(calendar.pk, "change")]


def test_each_genuine_item_of_a_batch_is_queued(client, calendar, queued):
    response = post(client, NOTIFICATIONS, [item(), item(changeType="created"), item(changeType="deleted")])

    assert response.status_code == 202
    assert queued == [(calendar.pk, "change")] * 3


def test_a_wrong_client_state_is_dropped_and_logged(client, calendar, queued, caplog):
    with caplog.at_level(logging.WARNING, logger="calendars.services"):
        response = post(client, NOTIFICATIONS, [item(clientState="forged"), item(subscriptionId="unknown")])

    assert response.status_code == 202
    assert queued == []
    assert "sub-1" in caplog.text and "unknown" in caplog.text


def test_a_google_channel_with_the_same_id_is_not_a_graph_subscription(client, calendar, queued):
    Connection.objects.filter(pk=calendar.connection_id).update(provider="google")

    post(client, NOTIFICATIONS, [item()])

    assert queued == []


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_events_reach_the_calendar_with_their_kind(client, calendar, queued, event):
    response = post(
        client, LIFECYCLE, [{"subscriptionId": "sub-1", "clientState": "the-client-state", "lifecycleEvent": event}]
    )

    assert response.status_code == 202
    assert queued == [(calendar.pk, event)]


@pytest.mark.parametrize("body", ["not json", "{}", '{"value": "x"}', '{"value": [{"clientState": "k"}]}'])
def test_a_body_that_is_not_a_graph_notification_is_a_400(client, queued, body):
    response = client.post(NOTIFICATIONS, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert queued == []


# --- connections to a Microsoft 365 tenant through the API -----------------------------------------------------

CONNECTIONS = "/api/v1/calendars/connections/"


def _connect(client, credentials):
    body = {"provider": "microsoft", "site": "cph", "name": "Operator M365", "credentials": credentials}
    return client.post(CONNECTIONS, body, format="json")


def test_staff_connect_a_microsoft_tenant_with_the_three_credentials_of_the_contract(staff_client, ms_project):
    response = _connect(staff_client, ms_project.credentials())

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("provider", "site", "name", "status")} == {
        "provider": "microsoft",
        "site": "cph",
        "name": "Operator M365",
        "status": "active",
    }
    assert ms_project.client_secret not in response.content.decode()
    connection = Connection.objects.get()
    assert ms_project.client_secret not in connection.credentials_ciphertext
    assert connection.credentials["client_secret"] == ms_project.client_secret


def test_a_wrong_secret_is_a_400_naming_microsofts_answer(staff_client, ms_project):
    response = _connect(staff_client, {**ms_project.credentials(), "client_secret": "wrong"})

    assert response.status_code == 400
    assert "invalid_client" in response.json()["detail"] and "AADSTS7000215" in response.json()["detail"]
    assert not Connection.objects.exists()


def test_the_connections_resources_are_the_tenants_rooms(staff_client, ms_connection):
    response = staff_client.get(f"{CONNECTIONS}{ms_connection.pk}/resources/")

    assert response.status_code == 200
    rooms = response.json()
    rooms = rooms["results"] if isinstance(rooms, dict) else rooms
    assert [(r["calendar_id"], r["name"], r["capacity"], r["building"], r["floor"]) for r in rooms] == [
        ("fjord@contoso.test", "Fjord", 6, "HQ", "1"),
        ("havn@contoso.test", "Havn", 10, "HQ", "2"),
    ]


def test_deleting_the_connection_stops_its_subscriptions_at_graph(staff_client, ms_linked, ms_project):
    assert len(ms_project.subscriptions_for("fjord@contoso.test")) == 1

    response = staff_client.delete(f"{CONNECTIONS}{ms_linked.connection_id}/")

    assert response.status_code == 204
    assert ms_project.subscriptions_for("fjord@contoso.test") == []
    assert not RoomCalendar.objects.exists()
