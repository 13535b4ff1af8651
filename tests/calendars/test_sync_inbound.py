"""Behaviour 1 (inbound): every event on a linked room's calendar in the window is a booking of that room, through
the same booking services as the API; moves re-time it, cancellations and deletions cancel it; recurring events
become a series in the room's local time, and one cancelled or moved instance changes that occurrence only."""

from __future__ import annotations

import pytest

from bookings.choices import BookingSource, BookingStatus
from calendars.models import EventLink
from calendars.services import sync_person_for
from tests.calendars.google_support import ALICE, ROOM, live_bookings, local, sync_now

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


def test_someone_unknown_here_is_recorded_as_the_external_organiser(linked, fake_google, fjord, committed):
    fake_google.user_event_create(
        "bob@labs.test", summary="Vendor call", start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14), rooms=(ROOM,)
    )

    with committed():
        sync_now(linked)

    [booking] = live_bookings(fjord)
    assert booking.organiser == sync_person_for(fjord.site)
    assert EventLink.objects.get(booking=booking).organiser_email == "bob@labs.test"


def test_a_moved_event_re_times_the_same_booking(linked, fake_google, fjord, alice, committed):
    event = fake_google.user_event_create(
        ALICE, summary="1:1", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    [before] = live_bookings(fjord)

    fake_google.user_event_patch(event, start=local(2026, 3, 4, 15), end=local(2026, 3, 4, 16, 30))
    with committed():
        sync_now(linked)

    [after] = live_bookings(fjord)
    assert after.pk == before.pk
    assert (after.start, after.end) == (local(2026, 3, 4, 15), local(2026, 3, 4, 16, 30))


def test_a_renamed_event_renames_its_booking(linked, fake_google, fjord, alice, committed):
    event = fake_google.user_event_create(
        ALICE, summary="Draft", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)

    fake_google.user_event_patch(event, summary="Board meeting")
    with committed():
        sync_now(linked)

    assert [b.title for b in live_bookings(fjord)] == ["Board meeting"]


def test_a_title_with_line_breaks_or_controls_is_booked_on_one_line_and_the_sync_goes_on(
    linked, fake_google, fjord, alice, committed
):
    """Google takes any summary; every title here is one line (labs.validators). The booking that event becomes
    was refused, and with it every later change of the room's calendar: a room accepted at Google, booked twice."""
    odd = fake_google.user_event_create(
        ALICE,
        summary="Sec\u2028test\u0007bell\u0085nel",
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 10),
        rooms=(ROOM,),
    )
    fake_google.user_event_create(
        ALICE, summary="Stand-up", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    fake_google.user_event_patch(odd, summary="Renamed\nline\r\n")
    with committed():
        sync_now(linked)

    assert [b.title for b in live_bookings(fjord)] == ["Renamed line", "Stand-up"]
    linked.refresh_from_db()
    assert (linked.status, linked.last_error) == ("ok", "")


def test_a_failure_of_ours_shows_in_the_calendars_health(linked, fake_google, fjord, alice, committed, monkeypatch):
    """Not only the provider's errors: whatever stops a calendar's sync makes it "failing", with the reason."""
    from calendars import sync

    fake_google.user_event_create(
        ALICE, summary="Review", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )

    def broken(*args, **kwargs):
        raise ValueError("no such thing")

    monkeypatch.setattr(sync, "_create_from_event", broken)
    with committed(), pytest.raises(ValueError):
        sync_now(linked)

    linked.refresh_from_db()
    assert linked.status == "failing"
    assert linked.last_error == "ValueError: no such thing"
    assert linked.consecutive_failures == 1


@pytest.mark.parametrize("how", ["deleted", "cancelled"])
def test_a_deleted_or_cancelled_event_cancels_its_booking(how, linked, fake_google, fjord, alice, committed):
    event = fake_google.user_event_create(
        ALICE, summary="Retro", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    [booking] = live_bookings(fjord)

    if how == "deleted":
        fake_google.user_event_delete(event)
    else:
        fake_google.user_event_patch(event, status="cancelled")
    with committed():
        sync_now(linked)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert live_bookings(fjord) == []


def test_events_outside_the_window_are_not_booked(linked, fake_google, fjord, alice, committed):
    fake_google.user_event_create(
        ALICE, summary="Far ahead", start=local(2026, 10, 5, 10), end=local(2026, 10, 5, 11), rooms=(ROOM,)
    )
    fake_google.user_event_create(
        ALICE, summary="Last week", start=local(2026, 2, 23, 10), end=local(2026, 2, 23, 11), rooms=(ROOM,)
    )

    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == []


def test_an_event_that_started_within_the_window_is_booked_as_it_was_made_in_time(
    linked, fake_google, fjord, alice, committed, frozen
):
    fake_google.user_event_create(
        ALICE, summary="Morning", start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10), rooms=(ROOM,)
    )
    frozen.move_to(local(2026, 3, 2, 9, 30))  # the event is running when the room is first synced

    with committed():
        sync_now(linked, full=True)

    assert [b.title for b in live_bookings(fjord)] == ["Morning"]


def test_a_recurring_event_becomes_a_series_in_the_rooms_local_time(linked, fake_google, fjord, alice, committed):
    # Weekly on Thursdays 09:00 Copenhagen time, across the change to summer time on 29 March.
    fake_google.user_event_create(
        ALICE,
        summary="Weekly sync",
        start=local(2026, 3, 19, 9),
        end=local(2026, 3, 19, 10),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4",),
    )

    with committed():
        sync_now(linked)

    bookings = live_bookings(fjord)
    assert [b.start for b in bookings] == [local(2026, 3, d, 9) for d in (19, 26)] + [
        local(2026, 4, d, 9) for d in (2, 9)
    ]
    assert [b.start.hour for b in bookings] == [8, 8, 7, 7]  # UTC: the local 09:00 holds across DST
    series = {b.series_id for b in bookings}
    assert len(series) == 1 and None not in series
    assert bookings[0].series.organiser == alice


def test_one_cancelled_instance_cancels_that_occurrence_only(linked, fake_google, fjord, alice, committed):
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

    fake_google.user_event_delete(f"{master}_20260304T080000Z")
    with committed():
        sync_now(linked)

    assert [b.start for b in live_bookings(fjord)] == [local(2026, 3, 3, 9), local(2026, 3, 5, 9)]


def test_one_moved_instance_moves_that_occurrence_only(linked, fake_google, fjord, alice, committed):
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
    before = {b.recurrence_id: b.pk for b in live_bookings(fjord)}

    fake_google.user_event_patch(
        f"{master}_20260304T080000Z", start=local(2026, 3, 4, 14), end=local(2026, 3, 4, 14, 30)
    )
    with committed():
        sync_now(linked)

    after = live_bookings(fjord)
    assert [b.start for b in after] == [local(2026, 3, 3, 9), local(2026, 3, 4, 14), local(2026, 3, 5, 9)]
    assert {b.recurrence_id: b.pk for b in after} == before  # the same occurrences, one re-timed
    assert [b.is_moved for b in after] == [False, True, False]


def test_deleting_a_whole_series_cancels_every_occurrence(linked, fake_google, fjord, alice, committed):
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

    fake_google.user_event_delete(master)
    with committed():
        sync_now(linked)

    assert live_bookings(fjord) == []


def test_an_open_ended_series_is_booked_to_the_end_of_the_window(linked, fake_google, fjord, alice, committed):
    fake_google.user_event_create(
        ALICE,
        summary="Monthly",
        start=local(2026, 3, 10, 9),
        end=local(2026, 3, 10, 10),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=MONTHLY;BYMONTHDAY=10",),
    )

    with committed():
        sync_now(linked)

    bookings = live_bookings(fjord)
    assert [b.start.date().isoformat() for b in bookings] == [f"2026-{m:02d}-10" for m in range(3, 9)]
    assert len({b.series_id for b in bookings}) == 1
