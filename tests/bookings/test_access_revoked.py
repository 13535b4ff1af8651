"""A person whose access ends no longer holds rooms and desks: deactivation and a membership ended today cancel what
they booked and end what is running, through the same access_revoked hook that revokes their badges. A role change
keeps their bookings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bookings.choices import BookingStatus, SeriesStatus
from bookings.models import BookingSeries
from labs import services as people
from labs.choices import Role
from tests.bookings.conftest import local
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(frozen, member, room, desk):
    """Tomorrow's room booking, a desk booking running now (checked in), and yesterday's, all the member's."""
    now = local(2026, 3, 2, 8)
    return {
        "tomorrow": BookingFactory(
            room=room, organiser=member, start=now + timedelta(days=1), end=now + timedelta(days=1, hours=1)
        ),
        "running": BookingFactory(
            room=None,
            desk=desk,
            site=desk.site,
            organiser=member,
            start=now - timedelta(hours=1),
            end=now + timedelta(hours=4),
            hold_end=now + timedelta(hours=4),
            status=BookingStatus.CHECKED_IN,
            checked_in_at=now - timedelta(minutes=50),
        ),
        "past": BookingFactory(
            room=room, organiser=member, start=now - timedelta(days=1), end=now - timedelta(days=1, hours=-1)
        ),
    }


def statuses(scene):
    for booking in scene.values():
        booking.refresh_from_db()
    return {name: booking.status for name, booking in scene.items()}


def test_deactivation_cancels_future_bookings_and_ends_the_running_one(scene, staff, member):
    people.person_deactivate(actor=staff, person=member)

    assert statuses(scene) == {
        "tomorrow": BookingStatus.CANCELLED,
        "running": BookingStatus.COMPLETED,
        "past": BookingStatus.CONFIRMED,  # history stays as it was
    }
    assert scene["running"].end == local(2026, 3, 2, 8)


def test_a_membership_ended_today_ends_the_bookings(scene, staff, member):
    people.person_end_membership(actor=staff, person=member, ends_on=date(2026, 3, 2))

    assert statuses(scene)["tomorrow"] == BookingStatus.CANCELLED


def test_a_membership_ending_later_keeps_the_bookings_for_now(scene, staff, member):
    people.person_end_membership(actor=staff, person=member, ends_on=date(2026, 4, 1))

    assert statuses(scene)["tomorrow"] == BookingStatus.CONFIRMED


def test_a_role_change_keeps_the_bookings(scene, staff, member):
    people.person_change_role(actor=staff, person=member, role=Role.MENTOR, company=None)

    assert statuses(scene)["tomorrow"] == BookingStatus.CONFIRMED


def test_the_series_ends_too(frozen, staff, member, room):
    series = BookingSeries.objects.create(
        organiser=member,
        site=room.site,
        room=room,
        rrule="FREQ=DAILY;COUNT=5",
        first_start=local(2026, 3, 3, 9),
        duration_minutes=60,
        timezone="Europe/Copenhagen",
    )
    people.person_deactivate(actor=staff, person=member)

    series.refresh_from_db()
    assert series.status == SeriesStatus.CANCELLED
