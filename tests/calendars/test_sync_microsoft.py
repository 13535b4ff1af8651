"""CALENDAR.md behaviour 1-6 on Microsoft 365, end to end: the engine and the Microsoft adapter, with the real msal and
requests, against the fake Graph; Graph's validation handshake and notifications go through the project's views.

The clock stands still on Monday 2 March 2026, 08:00 in Copenhagen; Fjord is linked to the room mailbox
``fjord@contoso.test`` and our bookings are written from the service mailbox.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from bookings import services as booking_services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from calendars import services
from calendars.choices import CalendarStatus, EventLinkState
from calendars.models import EventLink, RoomCalendar
from tests.calendars.google_support import live_bookings, local, sync_now
from tests.calendars.ms_support import ALICE, BOB, NOTIFICATIONS, OTHER_ROOM, ROOM, SERVICE
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(site, company):
    """A member whose address is her Microsoft 365 address: her Outlook meetings are booked for her."""
    return PersonFactory(user__username="alice", user__email=ALICE, site=site, company=company)


def deliver(fake):
    """Graph POSTs what it has queued to the project; returns the answers' statuses."""
    return [d.status for d in fake.deliver()]


def copies(fake, room=ROOM):
    return fake.calendar_view(room, local(2026, 3, 1), local(2026, 9, 1))


# --- 1. inbound -------------------------------------------------------------------------------------------------


def test_an_outlook_meeting_inviting_the_room_becomes_a_booking(ms_linked, ms_project, fjord, alice, committed):
    ms_project.outlook_create(
        ALICE,
        subject="Design review",
        start=local(2026, 3, 3, 10),
        end=local(2026, 3, 3, 11),
        rooms=[ROOM],
        attendees=[BOB],
        time_zone="Romance Standard Time",
    )

    with committed():
        sync_now(ms_linked)

    [booking] = live_bookings(fjord)
    assert (booking.start, booking.end) == (local(2026, 3, 3, 10), local(2026, 3, 3, 11))
    assert booking.organiser == alice
    assert booking.source == BookingSource.MICROSOFT
    assert booking.title == "Alice Jensen"  # what the room mailbox shows: Exchange put the organiser's name there
    link = EventLink.objects.get(booking=booking)
    assert link.attendee_count == 1 and link.organiser_email == ""


def test_an_external_organiser_is_recorded_on_the_link(ms_linked, ms_project, fjord, committed):
    ms_project.outlook_create(
        "guest@partner.test", subject="Visit", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM]
    )

    with committed():
        sync_now(ms_linked)

    [booking] = live_bookings(fjord)
    assert EventLink.objects.get(booking=booking).organiser_email == "guest@partner.test"


def test_a_moved_meeting_retimes_its_booking_and_a_cancelled_one_cancels_it(
    ms_linked, ms_project, fjord, alice, committed
):
    meeting = ms_project.outlook_create(
        ALICE, subject="Sync", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM]
    )
    with committed():
        sync_now(ms_linked)
    [booking] = live_bookings(fjord)

    ms_project.outlook_move(ALICE, meeting.id, start=local(2026, 3, 4, 14), end=local(2026, 3, 4, 15, 30))
    with committed():
        sync_now(ms_linked)
    booking.refresh_from_db()
    assert (booking.start, booking.end, booking.status) == (
        local(2026, 3, 4, 14),
        local(2026, 3, 4, 15, 30),
        BookingStatus.CONFIRMED,
    )

    ms_project.outlook_cancel(ALICE, meeting.id)
    with committed():
        sync_now(ms_linked)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert live_bookings(fjord) == []


def test_a_series_with_one_cancelled_and_one_moved_occurrence(ms_linked, ms_project, fjord, alice, committed):
    series = ms_project.outlook_create(
        ALICE,
        subject="Stand-up",
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 9, 30),
        rooms=[ROOM],
        time_zone="Romance Standard Time",
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 5},
        },
    )
    with committed():
        sync_now(ms_linked)
    assert [b.start for b in live_bookings(fjord)] == [local(2026, 3, d, 9) for d in (3, 4, 5, 6, 7)]
    assert len({b.series_id for b in live_bookings(fjord)}) == 1 and live_bookings(fjord)[0].series_id

    ms_project.outlook_cancel_occurrence(ALICE, series.id, local(2026, 3, 4, 9))
    ms_project.outlook_move_occurrence(
        ALICE, series.id, local(2026, 3, 6, 9), start=local(2026, 3, 6, 15), end=local(2026, 3, 6, 15, 30)
    )
    with committed():
        sync_now(ms_linked)

    assert [b.start for b in live_bookings(fjord)] == [
        local(2026, 3, 3, 9),
        local(2026, 3, 5, 9),
        local(2026, 3, 6, 15),
        local(2026, 3, 7, 9),
    ]


# --- 2. conflicts -----------------------------------------------------------------------------------------------


def test_an_outlook_meeting_over_a_live_booking_is_declined_at_the_room_with_the_reason(
    ms_linked, ms_project, fjord, member, committed
):
    ms_project.mailbox(ROOM).allow_conflicts = True  # the room accepts anything: only Labs keeps it single
    with committed():
        held = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Held"
        )
    clash = ms_project.outlook_create(
        BOB, subject="Clash", start=local(2026, 3, 3, 10, 30), end=local(2026, 3, 3, 12), rooms=[ROOM]
    )

    with committed():
        sync_now(ms_linked)
        sync_now(ms_linked)  # the answer owed to the provider goes out with the next push

    assert [b.pk for b in live_bookings(fjord)] == [held.pk]
    assert ms_project.room_copy(ROOM, clash.ical_uid) is None
    [answer] = [r for r in ms_project.responses if r["iCalUId"] == clash.ical_uid and r["response"] == "declined"]
    assert answer["room"] == ROOM and answer["organizer"] == BOB
    assert answer["comment"]  # the reason, in the organiser's decline mail
    assert clash.attendees[0]["response"] == "declined"


def test_when_the_room_held_the_slot_for_an_unread_meeting_our_booking_still_wins(
    ms_linked, ms_project, fjord, member, committed
):
    # The Outlook meeting reaches the room first; the booking made in Labs at the same time is declined by the room.
    clash = ms_project.outlook_create(
        BOB, subject="Clash", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM]
    )
    with committed():
        held = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Held"
        )
    for _ in range(3):
        with committed():
            sync_now(ms_linked)

    assert [b.pk for b in live_bookings(fjord)] == [held.pk]
    assert ms_project.room_copy(ROOM, clash.ical_uid) is None
    [room_copy] = copies(ms_project)
    assert room_copy.event.organizer[1] == SERVICE  # our event holds the room's calendar now
    assert EventLink.objects.get(booking=held).ical_uid == room_copy.event.ical_uid


def test_a_meeting_moved_onto_a_booking_is_declined_and_its_booking_released(
    ms_linked, ms_project, fjord, alice, member, committed
):
    ms_project.mailbox(ROOM).allow_conflicts = True
    meeting = ms_project.outlook_create(
        ALICE, subject="Mine", start=local(2026, 3, 3, 8), end=local(2026, 3, 3, 9), rooms=[ROOM]
    )
    with committed():
        held = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Held"
        )
        sync_now(ms_linked)

    ms_project.outlook_move(ALICE, meeting.id, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    with committed():
        sync_now(ms_linked)
        sync_now(ms_linked)

    assert [b.pk for b in live_bookings(fjord)] == [held.pk]
    assert ms_project.room_copy(ROOM, meeting.ical_uid) is None


# --- 3. outbound --------------------------------------------------------------------------------------------------


def test_a_booking_made_here_appears_on_the_room_calendar_and_its_echo_is_not_a_second_booking(
    ms_linked, ms_project, fjord, member, committed
):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14), title="Planning"
        )
    [room_copy] = copies(ms_project)
    assert (room_copy.start, room_copy.end) == (booking.start, booking.end)
    assert room_copy.subject == "Labs bookings"  # the room mailbox's rewrite
    assert room_copy.event.extended == {}  # and it dropped our property

    for _ in range(2):
        with committed():
            sync_now(ms_linked)

    assert [b.pk for b in live_bookings(fjord)] == [booking.pk]
    link = EventLink.objects.get(booking=booking)
    assert link.event_id == room_copy.id  # the room copy's id, adopted through its iCalUId
    mine = ms_project.mailbox(SERVICE).events[link.write_ref.split("|")[1]]
    assert [value for _pid, value in mine.extended.values()] == [booking.uid.hex]


def test_retiming_and_cancelling_here_follow_on_the_room_calendar(ms_linked, ms_project, fjord, member, committed):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14), title="Planning"
        )
        sync_now(ms_linked)

    with committed():
        booking_services.booking_update(
            actor=member, booking=booking, start=local(2026, 3, 5, 9), end=local(2026, 3, 5, 10)
        )
    assert [(c.start, c.end) for c in copies(ms_project)] == [(local(2026, 3, 5, 9), local(2026, 3, 5, 10))]
    with committed():
        sync_now(ms_linked)
    assert [b.pk for b in live_bookings(fjord)] == [booking.pk]

    with committed():
        booking_services.booking_cancel(actor=member, booking=booking)
        sync_now(ms_linked)
    assert copies(ms_project) == []
    assert live_bookings(fjord) == []


def test_a_booking_made_before_the_link_is_written_when_the_room_is_linked(
    ms_connection, ms_project, fjord, member, staff, committed
):
    with committed():
        booking = booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14), title="Early"
        )
        services.room_calendar_link(actor=staff, room=fjord, connection=ms_connection, calendar_id=ROOM)

    [room_copy] = copies(ms_project)
    assert room_copy.start == booking.start
    assert [b.pk for b in live_bookings(fjord)] == [booking.pk]


# --- 4. incremental and convergent ---------------------------------------------------------------------------


def test_a_sync_of_an_unchanged_calendar_costs_one_request(ms_linked, ms_project, alice, committed):
    for day in range(3, 8):
        ms_project.outlook_create(
            ALICE, subject="M", start=local(2026, 3, day, 10), end=local(2026, 3, day, 11), rooms=[ROOM]
        )
    with committed():
        sync_now(ms_linked)
    before = ms_project.count(mailbox=ROOM)

    with committed():
        result = sync_now(ms_linked)

    assert result.requests == 1
    assert ms_project.count(mailbox=ROOM) == before + 1
    assert RoomCalendar.objects.get(pk=ms_linked.pk).last_sync_requests == 1


def test_an_expired_delta_token_resyncs_in_full_to_the_same_bookings(ms_linked, ms_project, fjord, alice, committed):
    for day in range(3, 6):
        ms_project.outlook_create(
            ALICE, subject="M", start=local(2026, 3, day, 10), end=local(2026, 3, day, 11), rooms=[ROOM]
        )
    with committed():
        sync_now(ms_linked)
    before = sorted(b.pk for b in live_bookings(fjord))

    ms_project.expire_delta_tokens(ROOM)
    with committed():
        result = sync_now(ms_linked)

    assert result.full
    assert sorted(b.pk for b in live_bookings(fjord)) == before
    assert Booking.objects.filter(room=fjord).count() == 3


def test_three_duplicated_shuffled_notifications_apply_one_change(ms_linked, ms_project, fjord, alice, committed):
    meeting = ms_project.outlook_create(
        ALICE, subject="M", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM]
    )
    with committed():
        deliver(ms_project)
    [booking] = live_bookings(fjord)
    ms_project.duplicate_notifications(3, shuffle=True)

    ms_project.outlook_move(ALICE, meeting.id, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))
    with committed():
        answers = deliver(ms_project)

    assert answers == [202, 202, 202]
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (local(2026, 3, 3, 12), local(2026, 3, 3, 13))
    assert [b.pk for b in live_bookings(fjord)] == [booking.pk]
    assert booking.sequence <= 2  # created, moved once


def test_lost_notifications_converge_through_the_reconcile(ms_linked, ms_project, fjord, alice, committed):
    ms_project.drop_notifications(0.1)
    meetings = []
    for index in range(20):
        meetings.append(
            ms_project.outlook_create(
                ALICE,
                subject=f"M{index}",
                start=local(2026, 3, 3 + index // 8, 8 + index % 8),
                end=local(2026, 3, 3 + index // 8, 9 + index % 8),
                rooms=[ROOM],
            )
        )
        with committed():
            deliver(ms_project)
    for meeting in meetings[:5]:
        ms_project.outlook_cancel(ALICE, meeting.id)
        with committed():
            deliver(ms_project)
    assert ms_project.dropped  # some were lost on the way

    with committed():
        services.calendars_reconcile()

    expected = sorted((c.start, c.end) for c in copies(ms_project))
    assert len(expected) == 15
    assert sorted((b.start, b.end) for b in live_bookings(fjord)) == expected


# --- 5. push ----------------------------------------------------------------------------------------------------


def test_linking_opens_a_validated_subscription_on_the_room_mailbox(ms_linked, ms_project):
    [subscription] = ms_project.subscriptions_for(ROOM)

    assert ms_linked.watch_id == subscription.id
    assert subscription.client_state == ms_linked.watch_token
    assert subscription.notification_url.endswith(NOTIFICATIONS)
    assert subscription.lifecycle_url.endswith("/api/v1/calendars/microsoft/lifecycle/")
    validations = [d for d in ms_project.deliveries if d.kind == "validation"]
    assert [d.status for d in validations] == [200, 200]
    assert ms_linked.watch_expires_at == subscription.expiration.replace(microsecond=0) or (
        abs(ms_linked.watch_expires_at - subscription.expiration) < timedelta(seconds=1)
    )


def test_subscriptions_are_renewed_at_half_life(ms_linked, ms_project, frozen, committed):
    first = ms_linked.watch_expires_at
    frozen.shift(timedelta(days=2))
    with committed():
        assert services.watches_renew() == 0  # more than half its life left

    frozen.shift(timedelta(days=2))
    with committed():
        assert services.watches_renew() == 1

    calendar = RoomCalendar.objects.get(pk=ms_linked.pk)
    [subscription] = ms_project.subscriptions_for(ROOM)
    assert calendar.watch_id == ms_linked.watch_id == subscription.id
    assert calendar.watch_expires_at > first
    assert ms_project.count("subscriptions.update") == 1


def test_lifecycle_events_renew_recreate_and_resync(ms_linked, ms_project, fjord, alice, committed):
    ms_project.send_lifecycle(ms_linked.watch_id, "reauthorizationRequired")
    with committed():
        deliver(ms_project)
    assert ms_project.count("subscriptions.update") == 1

    ms_project.drop_notifications(1.0)
    ms_project.outlook_create(ALICE, subject="M", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM])
    ms_project.send_lifecycle(ms_linked.watch_id, "missed")
    with committed():
        deliver(ms_project)
    assert len(live_bookings(fjord)) == 1

    ms_project.send_lifecycle(ms_linked.watch_id, "subscriptionRemoved")
    with committed():
        deliver(ms_project)
    [subscription] = ms_project.subscriptions_for(ROOM)
    assert subscription.id != ms_linked.watch_id
    assert RoomCalendar.objects.get(pk=ms_linked.pk).watch_id == subscription.id
    assert len(live_bookings(fjord)) == 1


def test_a_notification_with_a_forged_client_state_queues_nothing(ms_linked, ms_project, fjord, alice, committed):
    ms_project.outlook_create(ALICE, subject="M", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM])
    before = ms_project.count("calendarView.delta")
    body = {"value": [{"subscriptionId": ms_linked.watch_id, "clientState": "forged", "changeType": "created"}]}

    with committed():
        response = APIClient().post(NOTIFICATIONS, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 202
    assert ms_project.count("calendarView.delta") == before
    assert live_bookings(fjord) == []


# --- 6. limits and failures ----------------------------------------------------------------------------------


def test_throttling_waits_and_loses_no_change(ms_linked, ms_project, fjord, alice, committed, monkeypatch):
    from calendars.providers import base

    waits = []
    monkeypatch.setattr(base.time, "sleep", waits.append)
    ms_project.outlook_create(ALICE, subject="M", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM])
    ms_project.throttle(times=2, retry_after=3, mailbox=ROOM)

    with committed():
        result = sync_now(ms_linked)

    assert waits == [3.0, 3.0]
    assert result.requests == 3
    assert len(live_bookings(fjord)) == 1


def test_a_long_retry_after_leaves_the_change_for_the_next_sync(ms_linked, ms_project, fjord, alice, committed):
    ms_project.outlook_create(ALICE, subject="M", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM])
    ms_project.throttle(times=1, retry_after=600, mailbox=ROOM)

    with committed():
        services.calendar_sync_request(ms_linked.pk, force=True)
    assert live_bookings(fjord) == []

    with committed():
        sync_now(ms_linked)
    assert len(live_bookings(fjord)) == 1


def test_a_failing_mailbox_shows_its_error_and_never_stops_the_others(
    ms_linked, ms_connection, ms_project, fjord, havn, alice, staff, committed
):
    with committed():
        services.room_calendar_link(actor=staff, room=havn, connection=ms_connection, calendar_id=OTHER_ROOM)
    ms_project.fail_mailbox(ROOM)
    ms_project.outlook_create(
        ALICE, subject="A", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM, OTHER_ROOM]
    )

    with committed():
        services.calendars_reconcile()

    failing, fine = RoomCalendar.objects.get(room=fjord), RoomCalendar.objects.get(room=havn)
    assert failing.status == CalendarStatus.FAILING and "503" in failing.last_error
    assert fine.status == CalendarStatus.OK
    assert len(live_bookings(havn)) == 1

    ms_project.heal_mailbox(ROOM)
    with committed():
        services.calendars_reconcile()
    assert RoomCalendar.objects.get(room=fjord).status == CalendarStatus.OK
    assert len(live_bookings(fjord)) == 1


def test_declined_links_keep_their_reason(ms_linked, ms_project, fjord, member, committed):
    ms_project.mailbox(ROOM).allow_conflicts = True
    with committed():
        booking_services.booking_create(
            actor=member, room=fjord, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Held"
        )
    ms_project.outlook_create(
        BOB, subject="Clash", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=[ROOM]
    )

    with committed():
        sync_now(ms_linked)

    [declined] = EventLink.objects.filter(calendar=ms_linked, state=EventLinkState.DECLINED)
    assert declined.reason


# --- over real HTTP, both ways ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_graph_validates_and_notifies_the_project_over_http(live_server, fake_ms, settings, site, staff):
    from calendars.fakes.microsoft import http_transport
    from tests.bookings.factories import RoomFactory
    from tests.calendars.ms_support import at, credentials

    settings.PUBLIC_BASE_URL = live_server.url
    fake_ms.transport = http_transport  # Graph's own way: a POST over the network to PUBLIC_BASE_URL
    room = RoomFactory(site=site, name="Fjord", capacity=6)
    connection = services.connection_create(
        actor=staff, site=site, provider="microsoft", name="M365", credentials=credentials(fake_ms)
    )
    services.room_calendar_link(actor=staff, room=room, connection=connection, calendar_id=ROOM)
    assert [d.status for d in fake_ms.deliveries if d.kind == "validation"] == [200, 200]

    fake_ms.outlook_create(ALICE, subject="Over HTTP", start=at(1, 10), end=at(1, 11), rooms=[ROOM])
    [delivery] = fake_ms.deliver()

    assert (delivery.kind, delivery.status) == ("notification", 202)
    assert delivery.elapsed < 3
    [booking] = live_bookings(room)
    assert (booking.start, booking.end) == (at(1, 10), at(1, 11))


# --- 7. privacy -----------------------------------------------------------------------------------------------------


def test_what_we_write_to_graph_is_only_what_a_booking_needs(ms_linked, ms_project, fjord, member, committed):
    with committed():
        booking = booking_services.booking_create(
            actor=member,
            room=fjord,
            start=local(2026, 3, 3, 13),
            end=local(2026, 3, 3, 14),
            title="Planning",
            attendees=["a@example.com", "b@example.com"],
        )

    link = EventLink.objects.get(booking=booking)
    written = ms_project.mailbox(SERVICE).events[link.write_ref.split("|")[1]]
    assert written.subject == "Planning"
    assert [a["address"] for a in written.attendees] == [ROOM]  # nobody else is invited or named
    assert written.body == f"Booked in Labs by {member.user.email} for 2 people."
    assert written.location == "Fjord"
    assert [value for _pid, value in written.extended.values()] == [booking.uid.hex]
    assert "a@example.com" not in str(vars(written))
