"""Behaviour 1 (inbound): every event on a linked room's calendar in the window is a booking of that room, through
the same booking services as the API; moves re-time it, cancellations and deletions cancel it; recurring events
become a series in the room's local time, and one cancelled or moved instance changes that occurrence only."""

from __future__ import annotations

import pytest

from bookings.choices import BookingSource, BookingStatus
from calendars.models import EventLink
from calendars.services import sync_person_for
from tests.calendars.google_support import (  # noqa: F401
    ALICE,
    ROOM,
    alice,
    committed,
    fake_google,
    fjord,
    frozen,
    google_connection,
    google_credentials,
    google_server,
    google_service_account,
    linked,
    live_bookings,
    local,
    quick_passwords,
    sync_now,
)

pytestmark = pytest.mark.django_db


def test_an_event_inviting_the_room_becomes_a_booking_of_it(linked, fake_google, fjord, alice, committed):
    fake_google.user_event_create(
        ALICE, summary="Design review", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )

    with committed():
        sync_now(linked)

    [booking] = live_bookings(fjord)
    assert (booking.start, booking.end) == (local(2026, 3, 3, 10), local(2026, 3, 3, 11))
    assert booking.title == "Design review"
    assert booking.organiser == alice
    assert booking.source == BookingSource.GOOGLE
