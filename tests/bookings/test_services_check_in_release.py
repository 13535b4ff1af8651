"""Check-in, the release of no-shows by the beat task, and a series ending after three misses in a row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings import services, tasks
from bookings.choices import BookingStatus, SeriesStatus
from labs.errors import Conflict, NotFound, RuleViolation
from tests.bookings.conftest import local

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def booking(member, room):
    return services.booking_create(
        actor=member,
        room=room,
        start=local(2026, 3, 2, 10),
        end=local(2026, 3, 2, 11),
        attendees=["guest@example.test"],
    )


def test_the_organiser_checks_in_from_15_minutes_before_the_start(member, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 9, 40))
    with pytest.raises(RuleViolation):
        services.booking_check_in(actor=member, booking=booking)

    frozen.move_to(local(2026, 3, 2, 9, 45))
    checked = services.booking_check_in(actor=member, booking=booking)

    assert checked.status == BookingStatus.CHECKED_IN
    assert checked.checked_in_at == local(2026, 3, 2, 9, 45)


def test_checking_in_twice_changes_nothing(member, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10))
    first = services.booking_check_in(actor=member, booking=booking)
    frozen.move_to(local(2026, 3, 2, 10, 5))
    again = services.booking_check_in(actor=member, booking=booking)

    assert again.checked_in_at == first.checked_in_at == local(2026, 3, 2, 10)


def test_an_attendee_may_check_in(member, booking, frozen):
    from tests.factories import PersonFactory

    guest = PersonFactory(user__email="Guest@example.test", site=member.site)
    frozen.move_to(local(2026, 3, 2, 10))

    assert services.booking_check_in(actor=guest, booking=booking).status == BookingStatus.CHECKED_IN


def test_someone_else_cannot_check_in(colleague, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10))
    with pytest.raises(NotFound):
        services.booking_check_in(actor=colleague, booking=booking)


def test_a_booking_not_checked_in_within_the_grace_period_is_released(member, colleague, room, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10, 9))
    assert tasks.release_no_shows() == 0

    frozen.move_to(local(2026, 3, 2, 10, 10))
    assert tasks.release_no_shows() == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RELEASED
    assert booking.released_at == local(2026, 3, 2, 10, 10)

    # The room is bookable again for the rest of the slot, and a late check-in is refused.
    again = services.booking_create(
        actor=colleague, room=room, start=local(2026, 3, 2, 10, 15), end=local(2026, 3, 2, 11)
    )
    assert again.status == BookingStatus.CONFIRMED
    with pytest.raises(Conflict):
        services.booking_check_in(actor=member, booking=booking)


def test_the_release_is_idempotent(booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10, 30))
    assert services.bookings_release_no_shows() == [booking.pk]
    assert services.bookings_release_no_shows() == []
    frozen.move_to(local(2026, 3, 2, 10, 31))
    assert services.bookings_release_no_shows() == []


def test_a_checked_in_booking_is_never_released(member, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10, 5))
    services.booking_check_in(actor=member, booking=booking)
    frozen.move_to(local(2026, 3, 2, 10, 30))

    assert services.bookings_release_no_shows() == []


def test_the_grace_period_is_the_sites(member, site, booking, frozen):
    site.check_in_grace_minutes = 30
    site.save()
    frozen.move_to(local(2026, 3, 2, 10, 20))
    assert services.bookings_release_no_shows() == []
    frozen.move_to(local(2026, 3, 2, 10, 30))
    assert services.bookings_release_no_shows() == [booking.pk]


def test_the_release_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["bookings-release-no-shows"]
    assert entry["task"] == "bookings.tasks.release_no_shows"
    assert entry["schedule"] <= 60


@pytest.fixture
def daily(member, room):
    return services.booking_series_create(
        actor=member,
        room=room,
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 10),
        rrule="FREQ=DAILY;COUNT=6",
        title="Daily sync",
    )


def _run_release_each_day(frozen, days):
    for day in days:
        frozen.move_to(local(2026, 3, day, 9, 30))
        services.bookings_release_no_shows()


def test_a_series_missed_three_times_in_a_row_loses_its_future(
    member, daily, frozen, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _run_release_each_day(frozen, [3, 4, 5])

    statuses = [b.status for b in daily.series.occurrences.order_by("start")]
    assert statuses == ["released"] * 3 + ["cancelled"] * 3
    daily.series.refresh_from_db()
    assert daily.series.status == SeriesStatus.ENDED_NO_SHOW
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [member.user.email]
    assert "3 times in a row" in mailoutbox[0].body

    with django_capture_on_commit_callbacks(execute=True):  # running again tells nobody twice
        _run_release_each_day(frozen, [6])
    assert len(mailoutbox) == 1


def test_a_check_in_breaks_the_run_of_misses(member, daily, frozen, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _run_release_each_day(frozen, [3, 4])
        frozen.move_to(local(2026, 3, 5, 9, 2))
        services.booking_check_in(actor=member, booking=daily.series.occurrences.order_by("start")[2])
        _run_release_each_day(frozen, [5, 6, 7])

    statuses = [b.status for b in daily.series.occurrences.order_by("start")]
    assert statuses == ["released", "released", "checked_in", "released", "released", "confirmed"]
    assert mailoutbox == []


def test_release_over_the_dst_night(member, room, frozen):
    """A booking at 09:00 local the morning after the spring change is released at 09:10 local (07:10 UTC)."""
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 30, 9), end=local(2026, 3, 30, 10))
    frozen.move_to(local(2026, 3, 30, 9, 9))
    assert services.bookings_release_no_shows() == []
    frozen.move_to(local(2026, 3, 30, 9, 10))
    assert services.bookings_release_no_shows() == [booking.pk]
    assert booking.start.astimezone(local(2026, 3, 30).tzinfo).hour == 9
    assert (local(2026, 3, 30, 9, 10) - booking.start) == timedelta(minutes=10)


def test_cancelling_a_booking_checked_in_early_cancels_it(member, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 9, 50))
    services.booking_check_in(actor=member, booking=booking)

    services.booking_cancel(actor=member, booking=booking)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.end == local(2026, 3, 2, 11)


def test_cancelling_a_booking_in_progress_ends_it_now(member, colleague, room, booking, frozen):
    frozen.move_to(local(2026, 3, 2, 10, 5))
    services.booking_check_in(actor=member, booking=booking)
    frozen.move_to(local(2026, 3, 2, 10, 20))

    services.booking_cancel(actor=member, booking=booking)

    booking.refresh_from_db()
    assert (booking.status, booking.end) == (BookingStatus.COMPLETED, local(2026, 3, 2, 10, 20))
    # The rest of the slot is free for others.
    assert services.booking_create(
        actor=colleague, room=room, start=local(2026, 3, 2, 10, 30), end=local(2026, 3, 2, 11)
    ).pk
