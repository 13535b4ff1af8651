"""The check-in's read of what stands around a desk (bookings.services.check_in._around): PostgreSQL's hand-written
statement answers as the ORM's query it replaces, whatever the scene."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.choices import BookingStatus
from bookings.services import check_in
from tests.bookings.factories import BookingFactory, DeskFactory

pytestmark = pytest.mark.postgres


def test_the_hand_written_read_around_a_desk_answers_as_the_orm_does(site, member, colleague):
    desk, other = DeskFactory(site=site), DeskFactory(site=site)
    at = timezone.now().replace(microsecond=0)

    def booking(desk, person, start, hours, status=BookingStatus.CONFIRMED):
        return BookingFactory(
            room=None,
            desk=desk,
            organiser=person,
            start=at + start,
            end=at + start + timedelta(hours=hours),
            hold_end=at + start + timedelta(hours=hours),
            status=status,
        )

    scene = [
        booking(desk, colleague, -timedelta(hours=3), 2, BookingStatus.COMPLETED),  # ended: not around
        booking(desk, colleague, -timedelta(minutes=30), 1, BookingStatus.CHECKED_IN),  # holds the desk now
        booking(desk, member, timedelta(hours=2), 1),  # mine, later today
        booking(other, member, timedelta(minutes=40), 1),  # mine elsewhere
        booking(other, colleague, timedelta(hours=3), 1),  # someone else's at another desk: not around
        booking(desk, colleague, timedelta(hours=4), 1, BookingStatus.CANCELLED),  # cancelled: not around
        booking(desk, colleague, timedelta(days=2), 1),  # after the window
    ]
    kwargs = {"desk_id": desk.pk, "person_id": member.pk, "at": at, "until": at + timedelta(hours=8)}
    by_hand = check_in._around(**kwargs)
    by_orm = check_in._around_orm(**kwargs)
    assert [tuple(row) for row in by_hand] == [tuple(row) for row in by_orm]
    assert [row.pk for row in by_hand] == [scene[1].pk, scene[3].pk, scene[2].pk]
    assert by_hand[0]._fields == by_orm[0]._fields
