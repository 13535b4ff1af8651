"""calendars.handlers: which calendar work a booking change starts, decided by one query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.events import BookingChange, BookingsChanged
from calendars import handlers, personal, services
from calendars.choices import PersonalStatus
from calendars.models import Connection, PersonalCalendar, RoomCalendar
from tests.bookings.factories import BookingFactory, RoomFactory
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def called(monkeypatch):
    seen = []
    monkeypatch.setattr(services, "on_bookings_changed", lambda event: seen.append(("rooms", event.booking_ids)))
    monkeypatch.setattr(personal, "on_bookings_changed", lambda event: seen.append(("personal", event.booking_ids)))
    return seen


def _changed(*bookings) -> BookingsChanged:
    return BookingsChanged(booking_ids=tuple(b.pk for b in bookings), change=BookingChange.CREATED, at=timezone.now())


def test_a_room_booking_with_no_linked_room_and_no_connected_organiser_costs_one_query(site, called):
    booking = BookingFactory(room=RoomFactory(site=site), organiser=PersonFactory(site=site))
    with CaptureQueriesContext(connection) as queries:
        handlers.on_bookings_changed(_changed(booking))
    assert len(queries.captured_queries) == 1
    assert called == []


@pytest.mark.parametrize(
    ("status", "expected"), [(PersonalStatus.CONNECTED, True), (PersonalStatus.NEEDS_RECONNECT, False)]
)
def test_an_organiser_with_a_connected_calendar_gets_the_personal_sync(site, called, status, expected):
    organiser = PersonFactory(site=site)
    PersonalCalendar.objects.create(person=organiser, provider="google", account="o@example.com", status=status)
    mine = BookingFactory(room=RoomFactory(site=site), organiser=organiser)
    other = BookingFactory(room=RoomFactory(site=site), organiser=PersonFactory(site=site))

    handlers.on_bookings_changed(_changed(mine, other))

    assert called == ([("personal", tuple(sorted((mine.pk, other.pk))))] if expected else [])


def test_a_linked_room_gets_the_rooms_sync(site, called):
    room = RoomFactory(site=site)
    link = Connection.objects.create(site=site, provider="google", name="Workspace")
    RoomCalendar.objects.create(connection=link, room=room, calendar_id="room@resource.example.com")
    booking = BookingFactory(room=room, organiser=PersonFactory(site=site))

    handlers.on_bookings_changed(_changed(booking))

    assert called == [("rooms", (booking.pk,))]


def test_the_one_booking_gate_reads_what_the_many_bookings_gate_reads(site):
    """The single-booking read (its SQL built once, labs.prepared) against the ORM query it stands in for."""
    from bookings.models import Booking
    from tests.bookings.factories import DeskFactory

    linked_room = RoomFactory(site=site)
    link = Connection.objects.create(site=site, provider="google", name="Workspace")
    RoomCalendar.objects.create(connection=link, room=linked_room, calendar_id="room@resource.example.com")
    connected = PersonFactory(site=site)
    PersonalCalendar.objects.create(
        person=connected, provider="google", account="c@example.com", status=PersonalStatus.CONNECTED
    )
    bookings = [
        BookingFactory(room=linked_room, organiser=PersonFactory(site=site)),
        BookingFactory(room=RoomFactory(site=site), organiser=connected),
        BookingFactory(room=RoomFactory(site=site), organiser=PersonFactory(site=site)),
        BookingFactory(room=None, desk=DeskFactory(site=site), site=site, organiser=connected),
    ]
    for booking in bookings:
        expected = list(
            Booking.objects.filter(pk__in=[booking.pk], room__isnull=False)
            .order_by("pk")
            .values_list("pk", "room__calendar_link__id", "organiser__personal_calendar__status")
        )
        with CaptureQueriesContext(connection) as queries:
            assert handlers._gate_rows((booking.pk,)) == expected
        assert len(queries.captured_queries) == 1
    assert [len(handlers._gate_rows((b.pk,))) for b in bookings] == [1, 1, 1, 0]
    assert handlers._gate_rows((bookings[0].pk,))[0][1] is not None
    assert handlers._gate_rows((bookings[1].pk,))[0][2] == PersonalStatus.CONNECTED


def test_one_booking_of_a_connected_organiser_gets_the_personal_sync(site, called):
    organiser = PersonFactory(site=site)
    PersonalCalendar.objects.create(
        person=organiser, provider="google", account="o@example.com", status=PersonalStatus.CONNECTED
    )
    mine = BookingFactory(room=RoomFactory(site=site), organiser=organiser)

    handlers.on_bookings_changed(_changed(mine))

    assert called == [("personal", (mine.pk,))]
