"""Behaviour 4 (incremental and convergent): a sync token per calendar; an unchanged calendar costs one request and
the cost grows with the changes, not the events; a 410 starts a full sync that ends with the same bookings; a token is
never used with another query; lost, duplicated or reordered notifications and the reconcile converge both sides."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from calendars import services
from calendars.models import RoomCalendar
from tests.calendars.google_support import ALICE, BOB, ROOM, deliver, live_bookings, local, sync_now

pytestmark = pytest.mark.django_db


def _calendar_requests(fake):
    return [e for e in fake.log if e["calendar"] == ROOM]


def test_an_unchanged_calendar_costs_one_request(linked, fake_google, fjord, alice, committed):
    fake_google.user_event_create(
        ALICE, summary="Standup", start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 9, 15), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    fake_google.log.clear()

    with committed():
        result = sync_now(linked)

    assert result.requests == 1
    assert [(e["method"], "syncToken" in e["query"]) for e in _calendar_requests(fake_google)] == [("GET", True)]
    assert RoomCalendar.objects.get(pk=linked.pk).last_sync_requests == 1


def test_the_cost_grows_with_the_changes_not_the_events(linked, fake_google, fjord, settings, committed):
    settings.CALENDAR_PAGE_SIZE = 50
    fake_google.seed_events(ROOM, 120, start=local(2026, 3, 3, 10), minutes=30, gap=24 * 60)
    with committed():
        full = sync_now(linked, full=True)
    assert full.requests == 3  # 120 events, 50 a page
    assert len(live_bookings(fjord)) == 120

    with committed():
        unchanged = sync_now(linked)
    events = [e["id"] for e in fake_google.live_events(ROOM)]
    fake_google.user_event_patch(events[5], summary="Renamed")
    with committed():
        one_change = sync_now(linked)

    assert (unchanged.requests, one_change.requests) == (1, 1)
    assert one_change.inbound == 1


def test_an_expired_token_starts_a_full_sync_that_ends_with_the_same_bookings(
    linked, fake_google, fjord, alice, committed
):
    for day in (3, 4, 5):
        fake_google.user_event_create(
            ALICE, summary=f"Day {day}", start=local(2026, 3, day, 9), end=local(2026, 3, day, 10), rooms=(ROOM,)
        )
    with committed():
        sync_now(linked)
    before = [(b.pk, b.start, b.title) for b in live_bookings(fjord)]

    fake_google.expire_sync_tokens(ROOM)
    fake_google.log.clear()
    with committed():
        result = sync_now(linked)

    assert result.full
    assert [e["query"].get("syncToken") is None for e in _calendar_requests(fake_google)] == [False, True]
    assert [(b.pk, b.start, b.title) for b in live_bookings(fjord)] == before


def test_a_token_is_never_used_with_another_query(linked, fake_google, fjord, committed):
    RoomCalendar.objects.filter(pk=linked.pk).update(sync_query="google:other@resource.labs.test:singleEvents:v1")
    fake_google.log.clear()

    with committed():
        result = sync_now(linked)

    assert result.full
    assert all("syncToken" not in e["query"] for e in _calendar_requests(fake_google))


def test_the_window_slides_with_a_daily_full_sync(linked, fake_google, fjord, alice, committed, frozen):
    # Made 200 days ahead: outside the window, so not a booking yet.
    fake_google.user_event_create(
        ALICE, summary="Far", start=local(2026, 9, 18, 10), end=local(2026, 9, 18, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    assert live_bookings(fjord) == []

    frozen.move_to(local(2026, 3, 25, 8))  # it is now inside the window; nothing about it changed
    with committed():
        result = sync_now(linked)

    assert result.full
    assert [b.title for b in live_bookings(fjord)] == ["Far"]


def test_duplicated_and_shuffled_notifications_apply_one_change(linked, fake_google, fjord, alice, client, committed):
    event = fake_google.user_event_create(
        ALICE, summary="Review", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    [booking] = live_bookings(fjord)
    fake_google.take_notifications()

    fake_google.user_event_patch(event, start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14))
    with committed():
        answers = deliver(client, fake_google.take_notifications(), duplicate=3, shuffle=True)

    assert answers == [200, 200, 200]
    [after] = live_bookings(fjord)
    assert after.pk == booking.pk
    assert (after.start, after.sequence) == (local(2026, 3, 3, 13), booking.sequence + 1)


def _provider_view(fake):
    return sorted((e["start"]["dateTime"], e["end"]["dateTime"]) for e in fake.live_events(ROOM))


def _our_view(room):
    return sorted(
        (b.start.astimezone(room.site.tz).isoformat(), b.end.astimezone(room.site.tz).isoformat())
        for b in live_bookings(room)
    )


def test_with_a_tenth_of_the_notifications_lost_the_reconcile_converges(
    linked, fake_google, fjord, alice, client, committed
):
    rng = random.Random(20260302)
    made: list[str] = []
    for step in range(40):
        day = 3 + rng.randrange(10)
        start = local(2026, 3, day, 8 + rng.randrange(10))
        action = rng.random()
        if made and action < 0.3:
            fake_google.user_event_patch(made[rng.randrange(len(made))], start=start, end=start + timedelta(minutes=30))
        elif made and action < 0.4:
            fake_google.user_event_delete(made.pop(rng.randrange(len(made))))
        else:
            who = ALICE if rng.random() < 0.5 else BOB
            made.append(
                fake_google.user_event_create(
                    who, summary=f"Step {step}", start=start, end=start + timedelta(minutes=30), rooms=(ROOM,)
                )
            )
        with committed():
            deliver(client, fake_google.take_notifications(), drop=0.1, seed=step)

    with committed():
        services.calendars_reconcile()

    assert _our_view(fjord) == _provider_view(fake_google)
    assert len(_our_view(fjord)) == len(set(_our_view(fjord)))  # and no room held twice
