"""The services comfort and badges call: desk_check_in, desk_check_out, presence_check_in, checked-in desks."""

from __future__ import annotations

import pytest

from bookings import selectors, services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from labs.errors import Conflict, NotFound
from tests.bookings.conftest import local

pytestmark = pytest.mark.usefixtures("frozen")


def test_a_walk_in_at_a_free_desk_books_it_until_the_end_of_the_local_day(member, desk):
    booking = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))

    assert booking.source == BookingSource.WALK_IN
    assert booking.status == BookingStatus.CHECKED_IN
    assert booking.checked_in_at == local(2026, 3, 2, 9)
    assert booking.end == local(2026, 3, 3, 0)


def test_a_walk_in_ends_at_the_desks_next_booking(member, colleague, desk):
    services.booking_create(actor=colleague, desk=desk, start=local(2026, 3, 2, 13), end=local(2026, 3, 2, 17))

    booking = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))

    assert booking.end == local(2026, 3, 2, 13)


def test_a_walk_in_ends_at_the_persons_next_desk_booking(member, desk, other_desk):
    services.booking_create(actor=member, desk=other_desk, start=local(2026, 3, 2, 14), end=local(2026, 3, 2, 17))

    booking = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))

    assert booking.end == local(2026, 3, 2, 14)


def test_checking_in_again_at_the_same_desk_returns_the_same_booking(member, desk):
    first = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))
    again = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9, 30))

    assert again.pk == first.pk
    assert Booking.objects.count() == 1


def test_it_checks_in_the_persons_own_booking_of_the_desk(member, desk):
    mine = services.booking_create(actor=member, desk=desk, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 17))

    booking = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 8, 55))

    assert booking.pk == mine.pk
    assert booking.status == BookingStatus.CHECKED_IN


def test_someone_elses_desk_is_a_conflict(member, colleague, desk):
    services.booking_create(actor=colleague, desk=desk, start=local(2026, 3, 2, 8, 30), end=local(2026, 3, 2, 17))

    with pytest.raises(Conflict):
        services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))


def test_checked_in_at_another_desk_is_a_conflict(member, desk, other_desk):
    services.desk_check_in(person=member, desk=other_desk, at=local(2026, 3, 2, 9))

    with pytest.raises(Conflict):
        services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 10))


def test_check_out_ends_the_booking_then(member, colleague, desk):
    services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))

    done = services.desk_check_out(person=member, desk=desk, at=local(2026, 3, 2, 12))

    assert done.status == BookingStatus.COMPLETED
    assert done.end == local(2026, 3, 2, 12)
    # The desk is free from then on.
    assert services.desk_check_in(person=colleague, desk=desk, at=local(2026, 3, 2, 12)).organiser == colleague


def test_check_out_where_not_checked_in_is_not_found(member, desk):
    with pytest.raises(NotFound):
        services.desk_check_out(person=member, desk=desk, at=local(2026, 3, 2, 12))


def test_presence_checks_in_live_and_imminent_bookings_at_the_site(member, room, desk, site):
    live = services.booking_create(actor=member, desk=desk, start=local(2026, 3, 2, 8, 30), end=local(2026, 3, 2, 17))
    soon = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 9, 10), end=local(2026, 3, 2, 10))
    later = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 11), end=local(2026, 3, 2, 12))

    checked = services.presence_check_in(person=member, site=site, at=local(2026, 3, 2, 9))

    assert {b.pk for b in checked} == {live.pk, soon.pk}
    later.refresh_from_db()
    assert later.status == BookingStatus.CONFIRMED
    assert services.presence_check_in(person=member, site=site, at=local(2026, 3, 2, 9, 1)) == []


def test_presence_with_nothing_booked_returns_nothing(member, site):
    assert services.presence_check_in(person=member, site=site, at=local(2026, 3, 2, 9)) == []


def test_checked_in_bookings_of_a_zone(member, colleague, desk, other_desk, zone):
    mine = services.desk_check_in(person=member, desk=desk, at=local(2026, 3, 2, 9))
    services.booking_create(actor=colleague, desk=other_desk, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 12))

    live = list(selectors.desk_checked_in_bookings(zone=zone, at=local(2026, 3, 2, 10)))

    assert live == [mine]
    assert list(selectors.desk_checked_in_bookings(zone=zone, at=local(2026, 3, 3, 1))) == []
