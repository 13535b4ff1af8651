"""Recurring series: RRULE expansion in local time across DST, limits, conflicts, cancelling and moving."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bookings import recurrence, services
from bookings.choices import BookingStatus, CancelScope, SeriesStatus
from bookings.models import Booking
from labs.errors import Conflict, Invalid, RuleViolation
from tests.bookings.conftest import CPH, local

pytestmark = pytest.mark.usefixtures("frozen")


def _expand(rule, start, minutes=60):
    return recurrence.expand(rule, first_start=start, duration=timedelta(minutes=minutes), tz=CPH)


def test_a_weekly_0900_stays_at_0900_local_across_the_spring_change():
    occurrences = _expand("FREQ=WEEKLY;COUNT=3", local(2026, 3, 23, 9))

    assert [o.start.astimezone(CPH).strftime("%Y-%m-%d %H:%M %z") for o in occurrences] == [
        "2026-03-23 09:00 +0100",
        "2026-03-30 09:00 +0200",
        "2026-04-06 09:00 +0200",
    ]
    assert [o.start.hour for o in occurrences] == [8, 7, 7]  # UTC moves by an hour, local time does not


def test_a_weekly_0900_stays_at_0900_local_across_the_autumn_change():
    occurrences = _expand("RRULE:FREQ=WEEKLY;UNTIL=20261102T235959Z", local(2026, 10, 19, 9), minutes=30)

    assert [o.start.astimezone(CPH).strftime("%m-%d %H:%M") for o in occurrences] == [
        "10-19 09:00",
        "10-26 09:00",
        "11-02 09:00",
    ]
    assert [o.start.hour for o in occurrences] == [7, 8, 8]
    assert all(o.end - o.start == timedelta(minutes=30) for o in occurrences)


def test_daily_weekdays_and_monthly_rules():
    weekdays = _expand("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=7", local(2026, 3, 6, 9))
    assert [o.start.astimezone(CPH).day for o in weekdays] == [6, 9, 10, 11, 12, 13, 16]

    last_fridays = _expand("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", local(2026, 3, 27, 14))
    assert [o.start.astimezone(CPH).strftime("%m-%d") for o in last_fridays] == ["03-27", "04-24", "05-29"]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;COUNT=5",
        "FREQ=YEARLY;COUNT=2",
        "FREQ=WEEKLY",  # neither COUNT nor UNTIL
        "FREQ=WEEKLY;COUNT=2;UNTIL=20260601",
        "FREQ=WEEKLY;COUNT=501",
        "FREQ=WEEKLY;COUNT=0",
        "FREQ=DAILY;BYHOUR=9,10;COUNT=4",
        "FREQ=DAILY;INTERVAL=0;COUNT=4",
        "FREQ=WEEKLY;BYDAY=2MO;COUNT=2",
        "FREQ=WEEKLY;COUNT=2;COUNT=3",
        "FREQ=WEEKLY;COUNT=2\nRDATE:20260401T090000",
        "DTSTART:20260101T090000;FREQ=WEEKLY",
        "FREQ=WEEKLY;UNTIL=notadate",
        "",
        "x" * 400,
        "FREQ=WEEKLY;COUNT=²",  # a digit to str.isdigit, not to int()
        "FREQ=WEEKLY;COUNT=" + "9" * 5000,  # past int()'s 4,300 digits
        "FREQ=DAILY;INTERVAL=³;COUNT=4",
    ],
)
def test_it_refuses_rules_outside_the_supported_subset(rule):
    with pytest.raises(Invalid):
        _expand(rule, local(2026, 3, 23, 9))


def test_a_series_spans_at_most_a_year():
    with pytest.raises(Invalid, match="366 days"):
        _expand("FREQ=DAILY;COUNT=400", local(2026, 3, 23, 9))
    with pytest.raises(Invalid, match="366 days"):
        _expand("FREQ=WEEKLY;UNTIL=20280101", local(2026, 3, 23, 9))


def test_an_impossible_rule_is_refused_quickly():
    """dateutil would look for a Monday that is both the 5th Monday and the 1st day until year 9999."""
    began = time.perf_counter()
    with pytest.raises(Invalid, match="no occurrences"):
        _expand("FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1;COUNT=3", local(2026, 3, 23, 9))
    assert time.perf_counter() - began < 0.5


def _series(person, resource, rule, start, end, **kwargs):
    kind = "room" if resource.__class__.__name__ == "Room" else "desk"
    return services.booking_series_create(actor=person, **{kind: resource}, start=start, end=end, rrule=rule, **kwargs)


def test_it_books_a_series_with_stored_occurrences(member, room):
    result = _series(member, room, "FREQ=WEEKLY;COUNT=4", local(2026, 3, 16, 9), local(2026, 3, 16, 10))

    assert result.skipped == []
    stored = list(Booking.objects.filter(series=result.series).order_by("start"))
    assert [b.start.astimezone(CPH).strftime("%m-%d %H:%M") for b in stored] == [
        "03-16 09:00",
        "03-23 09:00",
        "03-30 09:00",
        "04-06 09:00",
    ]
    assert all(b.recurrence_id == b.start for b in stored)
    assert result.series.timezone == "Europe/Copenhagen"


def test_a_series_with_a_conflict_is_refused_listing_the_dates(member, colleague, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 30, 9, 30), end=local(2026, 3, 30, 10))

    with pytest.raises(Conflict) as caught:
        _series(member, room, "FREQ=WEEKLY;COUNT=4", local(2026, 3, 16, 9), local(2026, 3, 16, 10))

    assert caught.value.extra["dates"] == ["2026-03-30"]
    assert not Booking.objects.filter(organiser=member).exists()


def test_skip_conflicts_books_the_free_occurrences_and_reports_the_rest(member, colleague, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 23, 9), end=local(2026, 3, 23, 10))

    result = _series(
        member, room, "FREQ=WEEKLY;COUNT=3", local(2026, 3, 16, 9), local(2026, 3, 16, 10), skip_conflicts=True
    )

    assert result.skipped == ["2026-03-23"]
    assert len(result.bookings) == 2


def test_a_series_is_checked_against_the_rules_for_every_occurrence(member, room):
    room.max_days_ahead = 20
    room.save()

    with pytest.raises(RuleViolation) as caught:
        _series(member, room, "FREQ=WEEKLY;COUNT=4", local(2026, 3, 9, 9), local(2026, 3, 9, 10))
    assert caught.value.extra["rule"] == "max_days_ahead"


def test_a_desk_series_respects_one_desk_per_person(member, desk, other_desk):
    services.booking_create(actor=member, desk=other_desk, start=local(2026, 3, 10, 9), end=local(2026, 3, 10, 17))

    with pytest.raises(Conflict) as caught:
        _series(member, desk, "FREQ=DAILY;COUNT=3", local(2026, 3, 9, 9), local(2026, 3, 9, 17))
    assert caught.value.extra["dates"] == ["2026-03-10"]


@pytest.fixture
def weekly(member, room):
    return _series(member, room, "FREQ=WEEKLY;COUNT=4", local(2026, 3, 9, 9), local(2026, 3, 9, 10))


def _statuses(series):
    return [b.status for b in series.occurrences.order_by("start")]


def test_cancel_one_occurrence(member, weekly):
    services.booking_cancel(actor=member, booking=weekly.bookings[1], scope=CancelScope.ONE)

    assert _statuses(weekly.series) == ["confirmed", "cancelled", "confirmed", "confirmed"]
    weekly.series.refresh_from_db()
    assert weekly.series.status == SeriesStatus.ACTIVE


def test_cancel_this_and_following(member, weekly):
    changed = services.booking_cancel(actor=member, booking=weekly.bookings[2], scope=CancelScope.FOLLOWING)

    assert changed == 2
    assert _statuses(weekly.series) == ["confirmed", "confirmed", "cancelled", "cancelled"]


def test_cancel_all(member, weekly):
    services.booking_cancel(actor=member, booking=weekly.bookings[2], scope=CancelScope.ALL)

    assert set(_statuses(weekly.series)) == {BookingStatus.CANCELLED}
    weekly.series.refresh_from_db()
    assert weekly.series.status == SeriesStatus.CANCELLED


def test_move_one_occurrence(member, colleague, room, weekly):
    moved = services.booking_update(
        actor=member, booking=weekly.bookings[1], start=local(2026, 3, 16, 14), end=local(2026, 3, 16, 15)
    )

    assert moved.is_moved
    assert moved.recurrence_id == local(2026, 3, 16, 9)
    assert moved.sequence == 1
    # The old slot is free again; the others are untouched.
    assert services.booking_create(actor=colleague, room=room, start=local(2026, 3, 16, 9), end=local(2026, 3, 16, 10))
    assert [b.start.astimezone(CPH).hour for b in weekly.series.occurrences.order_by("start")] == [9, 14, 9, 9]


def test_moving_an_occurrence_onto_a_booking_is_a_conflict(member, colleague, room, weekly):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 16, 14), end=local(2026, 3, 16, 15))

    with pytest.raises(Conflict):
        services.booking_update(
            actor=member, booking=weekly.bookings[1], start=local(2026, 3, 16, 14), end=local(2026, 3, 16, 15)
        )
