"""Behaviour 3 (outbound): a booking of a linked room made anywhere else appears on the room's calendar after commit,
carrying the booking's id; re-time and cancel follow; the echo of our own write never becomes a second booking."""

from __future__ import annotations

import pytest

from bookings import services as booking_services
from bookings.choices import BookingStatus
from bookings.models import Booking
from calendars.models import EventLink, OutboundChange
from calendars.providers.google import BOOKING_PROPERTY
from tests.calendars.google_support import ALICE, ROOM, live_bookings, local, sync_now

pytestmark = pytest.mark.django_db


def _ours(fake):
    return [e for e in fake.live_events(ROOM) if BOOKING_PROPERTY in e.get("extendedProperties", {}).get("private", {})]


def test_a_booking_made_through_the_api_appears_on_the_rooms_calendar_after_commit(
    linked, fake_google, fjord, member_client, committed, django_capture_on_commit_callbacks
):
    body = {"room": fjord.pk, "start": "2026-03-03T10:00:00+01:00", "end": "2026-03-03T11:00:00+01:00"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = member_client.post("/api/v1/bookings/", {**body, "title": "Planning"}, format="json")
        assert response.status_code == 201
        assert _ours(fake_google) == []  # nothing leaves before the commit
    with committed():  # the commit: the handler queues the booking, the calendar's sync writes it
        for callback in callbacks:
            callback()

    [event] = _ours(fake_google)
    booking = Booking.objects.get(pk=response.json()["id"])
    assert event["summary"] == "Planning"
    assert event["extendedProperties"]["private"][BOOKING_PROPERTY] == booking.uid.hex
    assert event["start"]["dateTime"] == "2026-03-03T10:00:00+01:00"
    link = EventLink.objects.get(booking=booking)
    assert (link.event_id, link.ical_uid) == (event["id"], event["iCalUID"])


def test_re_timing_and_cancelling_follow(linked, fake_google, fjord, member, member_client, committed):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Planning"
        )
    with committed():
        response = member_client.patch(
            f"/api/v1/bookings/{booking.pk}/", {"end": "2026-03-03T12:30:00+01:00"}, format="json"
        )
        assert response.status_code == 200
    [event] = _ours(fake_google)
    assert event["end"]["dateTime"] == "2026-03-03T12:30:00+01:00"

    with committed():
        assert member_client.delete(f"/api/v1/bookings/{booking.pk}/").status_code == 204

    assert _ours(fake_google) == []
    assert fake_google.event_on(ROOM, event["id"])["status"] == "cancelled"


def test_the_echo_of_our_own_write_is_not_a_second_booking(linked, fake_google, fjord, member, committed):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Planning"
        )
    fake_google.log.clear()

    with committed():
        result = sync_now(linked)  # reads our own event back
        sync_now(linked, full=True)

    assert result.requests == 1
    assert live_bookings(fjord) == [booking]


def test_an_event_of_ours_met_before_it_was_recorded_is_linked_not_booked_again(
    linked, fake_google, fjord, member, committed
):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Planning"
        )
    EventLink.objects.filter(booking=booking).delete()  # the worker died between the provider's answer and our save

    with committed():
        sync_now(linked, full=True)

    assert live_bookings(fjord) == [booking]
    assert EventLink.objects.get(booking=booking).event_id == _ours(fake_google)[0]["id"]
    assert len(_ours(fake_google)) == 1


def test_a_recurring_booking_writes_each_occurrence(linked, fake_google, fjord, member, committed):
    with committed():
        result = booking_services.booking_series_create(
            actor=member,
            room=fjord,
            start=local(2026, 3, 3, 10),
            end=local(2026, 3, 3, 11),
            rrule="FREQ=WEEKLY;COUNT=3",
            title="Weekly",
        )
    with committed():
        booking_services.booking_cancel(actor=member, booking=result.bookings[1])

    starts = sorted(e["start"]["dateTime"] for e in _ours(fake_google))
    assert starts == ["2026-03-03T10:00:00+01:00", "2026-03-17T10:00:00+01:00"]


def test_a_booking_made_before_the_room_was_linked_is_written_when_it_is(
    google_connection, fake_google, fjord, member, staff, committed
):
    from calendars import services

    with committed():
        booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10), title="Early"
        )
    with committed():
        services.room_calendar_link(actor=staff, room=fjord, connection=google_connection, calendar_id=ROOM)

    assert [e["summary"] for e in _ours(fake_google)] == ["Early"]


def test_cancelling_a_calendar_booking_here_declines_it_at_the_provider(
    linked, fake_google, fjord, alice, staff, committed
):
    event = fake_google.user_event_create(
        ALICE, summary="Offsite prep", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    [booking] = live_bookings(fjord)

    with committed():
        booking_services.booking_cancel(actor=staff, booking=booking)

    assert fake_google.room_response(ROOM, event) == "declined"
    with committed():
        sync_now(linked)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert live_bookings(fjord) == []


def test_cancelling_one_occurrence_of_a_calendar_series_removes_that_instance_only(
    linked, fake_google, fjord, alice, committed
):
    master = fake_google.user_event_create(
        ALICE,
        summary="Standup",
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 9, 30),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=DAILY;COUNT=3",),
    )
    with committed():
        sync_now(linked)
    middle = live_bookings(fjord)[1]

    with committed():
        booking_services.booking_cancel(actor=alice, booking=middle)

    assert fake_google.room_response(ROOM, f"{master}_20260304T080000Z") == "declined"
    assert fake_google.room_response(ROOM, f"{master}_20260303T080000Z") == "accepted"
    assert fake_google.room_response(ROOM, f"{master}_20260305T080000Z") == "accepted"


def test_re_timing_a_calendar_booking_here_moves_it_to_an_event_of_ours(linked, fake_google, fjord, alice, committed):
    event = fake_google.user_event_create(
        ALICE, summary="Offsite prep", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    [booking] = live_bookings(fjord)

    with committed():
        booking_services.booking_update(
            actor=alice, booking=booking, start=local(2026, 3, 3, 14), end=local(2026, 3, 3, 15)
        )
    with committed():
        sync_now(linked)

    assert fake_google.room_response(ROOM, event) == "declined"
    [ours] = _ours(fake_google)
    assert ours["start"]["dateTime"] == "2026-03-03T14:00:00+01:00"
    assert live_bookings(fjord) == [booking]
    assert (live_bookings(fjord)[0].start, live_bookings(fjord)[0].end) == (
        local(2026, 3, 3, 14),
        local(2026, 3, 3, 15),
    )


def test_deleting_our_event_at_the_provider_cancels_the_booking(linked, fake_google, fjord, member, committed):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Planning"
        )
    [event] = _ours(fake_google)

    fake_google.user_event_delete(event["id"])
    with committed():
        sync_now(linked)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_a_released_no_show_frees_the_room_at_the_provider(linked, fake_google, fjord, member, committed, frozen):
    with committed():
        booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10), title="No-show"
        )
    frozen.move_to(local(2026, 3, 2, 9, 20))

    with committed():
        booking_services.bookings_release_no_shows()

    assert _ours(fake_google) == []
    assert not OutboundChange.objects.exists()
