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
def client():
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
