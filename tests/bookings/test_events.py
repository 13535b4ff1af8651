"""bookings.events: every service that changes bookings announces it after commit (calendar sync and analytics
react to it; comfort reacts to desk occupancy)."""

from __future__ import annotations

import pytest

from bookings import events, services
from bookings.events import BookingChange
from tests.bookings.conftest import local

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def heard(monkeypatch):
    """The bookings-changed events heard after commit, as (change, ids)."""
    received = []
    monkeypatch.setattr(events, "_change_handlers", [lambda e: received.append((e.change, list(e.booking_ids)))])
    return received


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_creating_a_booking_is_announced_after_commit(member, room, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = services.booking_create(
            actor=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
        )
        assert heard == []

    for callback in callbacks:
        callback()
    assert heard == [(BookingChange.CREATED, [booking.pk])]


def test_a_series_is_announced_as_one_event_with_every_occurrence(member, room, heard, committed):
    with committed():
        result = services.booking_series_create(
            actor=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11), rrule="FREQ=DAILY;COUNT=3"
        )

    assert heard == [(BookingChange.CREATED, sorted(b.pk for b in result.bookings))]


def test_retiming_checking_in_and_cancelling_are_announced(member, room, heard, committed, frozen):
    with committed():
        booking = services.booking_create(
            actor=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
        )
        services.booking_update(actor=member, booking=booking, end=local(2026, 3, 2, 12))
        services.booking_check_in(actor=member, booking=booking, at=local(2026, 3, 2, 9, 50))
    frozen.move_to(local(2026, 3, 2, 10, 30))
    with committed():
        services.booking_cancel(actor=member, booking=booking)

    assert [change for change, _ids in heard] == [
        BookingChange.CREATED,
        BookingChange.UPDATED,
        BookingChange.CHECKED_IN,
        BookingChange.COMPLETED,  # a running booking that is cancelled ends now
    ]
    assert all(ids == [booking.pk] for _change, ids in heard)


def test_a_cancellation_before_the_start_is_announced_as_cancelled(member, room, heard, committed):
    with committed():
        booking = services.booking_create(
            actor=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
        )
        services.booking_cancel(actor=member, booking=booking)

    assert heard[-1] == (BookingChange.CANCELLED, [booking.pk])


def test_releases_and_ends_are_announced_in_bulk(member, colleague, room, desk, heard, committed):
    with committed():
        no_show = services.booking_create(
            actor=member, room=room, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10)
        )
        walk_in = services.desk_check_in(person=colleague, desk=desk, at=local(2026, 3, 2, 9))
    heard.clear()
    with committed():
        services.bookings_release_no_shows(now=local(2026, 3, 2, 9, 30))
        services.bookings_complete_ended(now=local(2026, 3, 3, 0, 1))

    assert heard == [(BookingChange.RELEASED, [no_show.pk]), (BookingChange.COMPLETED, [walk_in.pk])]


def test_a_rolled_back_change_is_never_announced(member, room, heard, committed):
    from django.db import transaction

    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11))
        raise RuntimeError("rolled back")

    assert heard == []
