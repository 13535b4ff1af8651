"""Behaviour 5 (push): each linked calendar has a watch channel, renewed before it expires (Google has no renewal:
a new overlapping channel, then channels.stop of the old). The notification endpoint answers at once and only
queues a sync; an unknown channel or a wrong token is a 404 and queues nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calendars import services
from calendars.models import RoomCalendar
from tests.calendars.google_support import ALICE, NOTIFICATIONS, ROOM, live_bookings, local

pytestmark = pytest.mark.django_db


def _headers(calendar, **overrides):
    headers = {
        "X-Goog-Channel-ID": calendar.watch_id,
        "X-Goog-Channel-Token": calendar.watch_token,
        "X-Goog-Resource-ID": calendar.watch_resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "2",
    }
    return {**headers, **overrides}


def test_linking_a_room_opens_a_channel_to_the_notification_endpoint(linked, fake_google, settings):
    [channel] = fake_google.active_channels(ROOM)
    calendar = RoomCalendar.objects.get(pk=linked.pk)
    assert channel["id"] == calendar.watch_id
    assert channel["address"] == f"{settings.PUBLIC_BASE_URL}{NOTIFICATIONS}"
    assert channel["token"] == calendar.watch_token and len(calendar.watch_token) >= 32
    assert calendar.watch_expires_at == local(2026, 3, 9, 8)  # a week: the longest Google grants here


def test_a_notification_of_a_known_channel_queues_one_sync(linked, fake_google, fjord, alice, client, committed):
    fake_google.user_event_create(
        ALICE, summary="Pushed", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    calendar = RoomCalendar.objects.get(pk=linked.pk)
    fake_google.log.clear()

    with committed():
        response = client.post(NOTIFICATIONS, headers=_headers(calendar))

    assert response.status_code == 200
    assert [e["method"] for e in fake_google.requests_for(ROOM)] == ["GET"]
    assert [b.title for b in live_bookings(fjord)] == ["Pushed"]


@pytest.mark.parametrize(
    "override",
    [
        {"X-Goog-Channel-Token": "forged"},
        {"X-Goog-Channel-ID": "unknown-channel"},
        {"X-Goog-Channel-ID": ""},
    ],
)
def test_an_unknown_channel_or_a_wrong_token_is_a_404_and_queues_nothing(linked, fake_google, client, override):
    calendar = RoomCalendar.objects.get(pk=linked.pk)
    fake_google.log.clear()

    response = client.post(NOTIFICATIONS, headers=_headers(calendar, **override))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert fake_google.log == []
    assert not RoomCalendar.objects.get(pk=linked.pk).sync_queued


def test_a_channel_past_half_its_life_is_replaced_and_the_old_one_stopped(linked, fake_google, frozen, committed):
    old = RoomCalendar.objects.get(pk=linked.pk).watch_id
    frozen.move_to(local(2026, 3, 6, 9))  # 3 days and a bit: less than half of the week is left

    with committed():
        assert services.watches_renew() == 1

    calendar = RoomCalendar.objects.get(pk=linked.pk)
    [channel] = fake_google.active_channels(ROOM)
    assert channel["id"] == calendar.watch_id != old
    assert fake_google.channels[old]["stopped"]
    assert calendar.watch_expires_at == local(2026, 3, 13, 9)


def test_a_young_channel_is_left_alone(linked, fake_google, frozen, committed):
    frozen.move_to(local(2026, 3, 3, 9))
    assert services.watches_renew() == 0
    assert len(fake_google.active_channels(ROOM)) == 1


def test_a_channel_that_could_not_be_opened_is_shown_and_retried(
    google_connection, fake_google, fjord, staff, committed, frozen
):
    fake_google.fail_next(1, status=400, reason="pushWebhookBadDomain", after=1)  # the list passes, the watch fails
    with committed():
        services.room_calendar_link(actor=staff, room=fjord, connection=google_connection, calendar_id=ROOM)
    calendar = RoomCalendar.objects.get(room=fjord)
    assert calendar.watch_id == "" and "pushWebhookBadDomain" in calendar.watch_error
    assert calendar.status == "ok"  # the sync itself went through

    with committed():
        services.watches_renew()

    calendar.refresh_from_db()
    assert calendar.watch_id and calendar.watch_error == ""
    assert len(fake_google.active_channels(ROOM)) == 1


def test_unlinking_a_room_stops_its_channel(linked, fake_google, fjord, staff):
    services.room_calendar_unlink(actor=staff, room=fjord)

    assert fake_google.active_channels(ROOM) == []
    assert not RoomCalendar.objects.exists()


def test_the_sync_handshake_of_a_new_channel_is_answered(linked, fake_google, client, committed):
    [handshake] = [n for n in fake_google.take_notifications() if n["headers"]["X-Goog-Resource-State"] == "sync"]
    with committed():
        assert client.post(NOTIFICATIONS, headers=handshake["headers"]).status_code == 200


def test_a_sync_message_before_its_channel_is_stored_is_a_404_without_a_warning(linked, client, caplog):
    # Google sends "sync" while channels.watch is still answering: the channel's id is not stored yet.
    sync = _headers(RoomCalendar.objects.get(pk=linked.pk), **{"X-Goog-Channel-ID": "being-created"})
    forged = {**sync, "X-Goog-Resource-State": "exists"}

    with caplog.at_level("INFO", logger="calendars.services"):
        assert client.post(NOTIFICATIONS, headers={**sync, "X-Goog-Resource-State": "sync"}).status_code == 404
        assert client.post(NOTIFICATIONS, headers=forged).status_code == 404

    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "calendars.services"]
    assert records == [
        ("INFO", "google sync message for a channel not stored yet: being-created"),
        ("WARNING", "google notification for unknown watch or with a wrong token: being-created"),
    ]


def test_an_old_channel_is_not_renewed_once_expired_silently(linked, fake_google, frozen):
    frozen.move_to(local(2026, 3, 9, 8) + timedelta(minutes=1))
    assert fake_google.active_channels(ROOM) == []  # Google's channel expired: no notification would come
    assert services.watches_renew() == 1  # the periodic renewal notices it (and the reconcile syncs meanwhile)
