"""Behaviour 2 (conflicts): an inbound event that overlaps a live booking creates no booking and is declined by the
room at the provider with the reason; the booking that holds the slot keeps it; a broken booking rule is declined the
same way; moves and full resyncs keep the bookings they find (same ids). Never two bookings of one room at once."""

from __future__ import annotations

import pytest

from bookings import services as booking_services
from bookings.choices import BookingSource
from bookings.models import Booking
from calendars.choices import EventLinkState
from calendars.models import EventLink
from tests.calendars.google_support import ALICE, BOB, ROOM, live_bookings, local, sync_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_booking(linked, fjord, member, committed):
    with committed():
        return booking_services.booking_create(
            actor=member,
            room=fjord,
            start=local(2026, 3, 3, 10),
            end=local(2026, 3, 3, 11),
            title="Portal booking",
            source=BookingSource.PORTAL,
        )


def _comment(fake, event_id: str) -> str:
    event = fake.event_on(ROOM, event_id)
    return next(a for a in event["attendees"] if a["email"] == ROOM).get("comment", "")


def test_an_overlapping_event_is_declined_at_the_provider_and_creates_no_booking(
    linked, fake_google, fjord, member, alice, committed
):
    # Alice's event reached Google's room (which accepted it) just before a portal booking of the same slot.
    event_id = fake_google.user_event_create(
        ALICE, summary="Clash", start=local(2026, 3, 3, 10, 30), end=local(2026, 3, 3, 11, 30), rooms=(ROOM,)
    )
    assert fake_google.room_response(ROOM, event_id) == "accepted"

    with committed():  # the booking's after-commit sync writes it, then reads Alice's event
        portal_booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Portal booking"
        )

    assert live_bookings(fjord) == [portal_booking]
    assert fake_google.room_response(ROOM, event_id) == "declined"
    assert "already booked" in _comment(fake_google, event_id)
    link = EventLink.objects.get(event_id=event_id)
    assert link.state == EventLinkState.DECLINED and link.booking is None


def test_the_provider_declining_on_its_own_books_nothing(linked, fake_google, fjord, portal_booking, alice, committed):
    with committed():
        sync_now(linked)  # our booking is on the room's calendar now: Google's room declines the clash itself
    event = fake_google.user_event_create(
        ALICE, summary="Clash", start=local(2026, 3, 3, 10, 30), end=local(2026, 3, 3, 11, 30), rooms=(ROOM,)
    )
    assert fake_google.room_response(ROOM, event) == "declined"

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == [portal_booking]


def test_a_broken_booking_rule_is_declined_with_the_rule(linked, fake_google, fjord, alice, committed):
    event = fake_google.user_event_create(
        ALICE, summary="Night shift", start=local(2026, 3, 3, 21), end=local(2026, 3, 3, 23), rooms=(ROOM,)
    )

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == []
    assert fake_google.room_response(ROOM, event) == "declined"
    assert "Bookable 07:00-20:00" in _comment(fake_google, event)


def test_an_event_on_a_closure_day_is_declined_with_the_closure(linked, fake_google, fjord, alice, committed):
    from bookings.models import Closure

    Closure.objects.create(site=fjord.site, day=local(2026, 3, 4).date(), reason="Works on the roof")
    event = fake_google.user_event_create(
        ALICE, summary="Planning", start=local(2026, 3, 4, 10), end=local(2026, 3, 4, 11), rooms=(ROOM,)
    )

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == []
    assert fake_google.room_response(ROOM, event) == "declined"
    assert "closed on Wednesday 4 March 2026 (Works on the roof)" in _comment(fake_google, event)


def test_too_many_attendees_for_the_room_are_declined(linked, fake_google, fjord, alice, committed):
    guests = tuple(f"guest{i}@elsewhere.test" for i in range(7))
    event = fake_google.user_event_create(
        ALICE,
        summary="All hands",
        start=local(2026, 3, 3, 10),
        end=local(2026, 3, 3, 11),
        rooms=(ROOM,),
        attendees=guests,
    )

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == []
    assert "8 people do not fit in a room for 6" in _comment(fake_google, event)


def test_a_move_into_a_conflict_is_declined_and_gives_up_the_room(
    linked, fake_google, fjord, portal_booking, alice, committed
):
    event = fake_google.user_event_create(
        ALICE, summary="Mine", start=local(2026, 3, 3, 14), end=local(2026, 3, 3, 15), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    mine = Booking.objects.get(title="Mine")

    fake_google.user_event_patch(event, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    with committed():
        sync_now(linked)

    mine.refresh_from_db()
    assert mine.status == "cancelled"
    assert live_bookings(fjord) == [portal_booking]
    assert fake_google.room_response(ROOM, event) == "declined"


def test_a_declined_event_moved_to_a_free_slot_is_booked(linked, fake_google, fjord, portal_booking, alice, committed):
    with committed():
        sync_now(linked)
    event = fake_google.user_event_create(
        ALICE, summary="Retry", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)

    fake_google.user_event_patch(event, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))  # room re-asked
    with committed():
        sync_now(linked)

    assert [b.title for b in live_bookings(fjord)] == ["Portal booking", "Retry"]


def test_a_direct_write_into_the_room_calendar_that_conflicts_is_removed(
    linked, fake_google, fjord, portal_booking, committed
):
    # A delegate writes straight into the room's calendar: Google's own conflict check is bypassed.
    event = fake_google.user_event_create(
        ROOM, summary="Sneaky", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 10, 30)
    )
    assert fake_google.room_response(ROOM, event) == "owner"

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == [portal_booking]
    assert fake_google.event_on(ROOM, event)["status"] == "cancelled"


def test_a_series_with_one_conflicting_instance_declines_that_instance_only(
    linked, fake_google, fjord, member, alice, committed
):
    master = fake_google.user_event_create(
        ALICE,
        summary="Daily",
        start=local(2026, 3, 2, 10),
        end=local(2026, 3, 2, 10, 30),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=DAILY;COUNT=4",),
    )
    with committed():  # booked in the portal before the series was read
        booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Portal booking"
        )

    titles = [(b.start, b.title) for b in live_bookings(fjord)]
    assert titles == [
        (local(2026, 3, 2, 10), "Daily"),
        (local(2026, 3, 3, 10), "Portal booking"),
        (local(2026, 3, 4, 10), "Daily"),
        (local(2026, 3, 5, 10), "Daily"),
    ]
    assert fake_google.room_response(ROOM, f"{master}_20260303T090000Z") == "declined"
    assert fake_google.room_response(ROOM, f"{master}_20260304T090000Z") == "accepted"


def test_google_declining_one_instance_on_its_own_books_the_others_as_a_series(
    linked, fake_google, fjord, portal_booking, alice, committed
):
    master = fake_google.user_event_create(
        ALICE,
        summary="Daily",
        start=local(2026, 3, 2, 10),
        end=local(2026, 3, 2, 10, 30),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=DAILY;COUNT=4",),
    )
    assert fake_google.room_response(ROOM, f"{master}_20260303T090000Z") == "declined"

    with committed():
        sync_now(linked)

    daily = [b for b in live_bookings(fjord) if b.title == "Daily"]
    assert [b.start.day for b in daily] == [2, 4, 5]
    assert len({b.series_id for b in daily}) == 1


def test_a_full_resync_keeps_the_bookings_it_finds(linked, fake_google, fjord, alice, bob_event, committed):
    with committed():
        sync_now(linked)
    before = sorted(Booking.objects.values_list("pk", "start", "status"))

    fake_google.expire_sync_tokens(ROOM)
    with committed():
        result = sync_now(linked)

    assert result.full
    assert sorted(Booking.objects.values_list("pk", "start", "status")) == before
    assert EventLink.objects.filter(state=EventLinkState.LINKED).count() == 2


@pytest.fixture
def bob_event(fake_google):
    fake_google.user_event_create(
        ALICE, summary="Alice's", start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), rooms=(ROOM,)
    )
    return fake_google.user_event_create(
        BOB, summary="Bob's", start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10), rooms=(ROOM,)
    )
