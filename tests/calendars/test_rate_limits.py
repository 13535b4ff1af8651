"""Behaviour 6 (limits and failures): 429 with Retry-After and 403 rateLimitExceeded back off and retry without
losing a change; a sync cut short never applies part of a listing or moves its token; an expired grant shows in
the connection's health, loudly; a failing calendar never stops the others."""

from __future__ import annotations

import logging

import pytest

from calendars import services, tasks
from calendars.choices import CalendarStatus, ConnectionStatus
from calendars.models import Connection, RoomCalendar
from calendars.providers.base import CredentialsRejected, RateLimited
from tests.calendars.google_support import ALICE, OTHER_ROOM, ROOM, live_bookings, local, sync_now

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [429, 403])
def test_a_rate_limited_request_is_retried_in_place(linked, fake_google, fjord, alice, status, committed):
    fake_google.user_event_create(
        ALICE, summary="Review", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    fake_google.fail_next(2, status=status, retry_after=0)

    with committed():
        result = sync_now(linked)

    assert result.requests == 3
    assert [b.title for b in live_bookings(fjord)] == ["Review"]


def test_a_listing_cut_short_by_rate_limits_applies_nothing_and_keeps_its_token(
    linked, fake_google, fjord, settings, committed
):
    settings.CALENDAR_PAGE_SIZE = 10
    fake_google.seed_events(ROOM, 25, start=local(2026, 3, 3, 10), minutes=30, gap=24 * 60)
    token = RoomCalendar.objects.get(pk=linked.pk).sync_token
    fake_google.fail_next(10, status=429, retry_after=0, after=1)  # page 1 passes, page 2 stays refused

    with pytest.raises(RateLimited):
        sync_now(linked)

    calendar = RoomCalendar.objects.get(pk=linked.pk)
    assert live_bookings(fjord) == []  # nothing from page 1 alone: no partial view of availability
    assert calendar.sync_token == token
    assert calendar.status == CalendarStatus.FAILING and "429" in calendar.last_error

    fake_google.failures.clear()
    with committed():
        sync_now(linked)
    assert len(live_bookings(fjord)) == 25


def test_a_revoked_grant_fails_loudly_and_shows_in_the_health(linked, fake_google, staff_client, caplog, committed):
    from django.core.cache import cache

    from tests.calendars.google_support import CLIENT_EMAIL

    fake_google.revoke(CLIENT_EMAIL)
    cache.clear()
    with caplog.at_level(logging.ERROR, logger="calendars.sync"), pytest.raises(CredentialsRejected):
        sync_now(linked)

    assert "credentials refused" in caplog.text
    connection = Connection.objects.get()
    assert connection.status == ConnectionStatus.FAILING
    body = staff_client.get(f"/api/v1/calendars/connections/{connection.pk}/").json()
    assert body["status"] == "failing"
    assert "invalid_grant" in body["rooms"][0]["error"]


def test_a_failing_calendar_never_stops_the_others(
    linked, google_connection, fake_google, havn, staff, alice, committed
):
    with committed():
        services.room_calendar_link(actor=staff, room=havn, connection=google_connection, calendar_id=OTHER_ROOM)
    fake_google.user_event_create(
        ALICE, summary="In Havn", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(OTHER_ROOM,)
    )
    fake_google.fail_calendar(ROOM)

    with committed():
        tasks.calendars_reconcile.delay()

    fjord_calendar = RoomCalendar.objects.get(calendar_id=ROOM)
    assert fjord_calendar.status == CalendarStatus.FAILING and "503" in fjord_calendar.last_error
    assert [b.title for b in live_bookings(havn)] == ["In Havn"]
    assert RoomCalendar.objects.get(calendar_id=OTHER_ROOM).status == CalendarStatus.OK


def test_a_queued_change_survives_a_failing_provider(linked, fake_google, fjord, member, committed):
    from bookings import services as booking_services
    from calendars.models import OutboundChange

    fake_google.fail_calendar(ROOM)
    with committed():
        booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Kept"
        )
    assert OutboundChange.objects.count() == 1

    fake_google.heal_calendar(ROOM)
    with committed():
        services.calendars_reconcile()

    assert OutboundChange.objects.count() == 0
    assert [e["summary"] for e in fake_google.live_events(ROOM)] == ["Kept"]


def test_the_task_backs_off_exponentially_and_caps():
    waits = [tasks.backoff(n) for n in range(12)]
    assert 5 <= waits[0] <= 10
    assert all(w <= 1800 for w in waits)
    assert waits[6] > waits[1]
