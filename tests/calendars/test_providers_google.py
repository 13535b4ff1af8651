"""The Google adapter with google-auth and google-api-python-client against the fake: credentials, the shared token,
idempotent writes, the room's answers, series rules, notifications."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendars.providers.base import OutboundEvent, RoomResponse, SyncWindow
from calendars.providers.google import BOOKING_PROPERTY, GoogleProvider, event_id_for
from labs.errors import Invalid
from tests.calendars.google_support import ALICE, ROOM, local

pytestmark = pytest.mark.django_db

WINDOW = SyncWindow(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 8, 29, tzinfo=UTC))


@pytest.fixture
def google(fake_google, google_credentials):
    return GoogleProvider(credentials=GoogleProvider.credentials_clean(google_credentials))


def _ours(key="0" * 31 + "1", **overrides):
    values = {
        "key": key,
        "title": "Planning",
        "start": local(2026, 3, 3, 10),
        "end": local(2026, 3, 3, 11),
        "timezone": "Europe/Copenhagen",
        "organiser_email": "member@example.test",
        "attendee_count": 2,
        "location": "Fjord",
    }
    return OutboundEvent(**{**values, **overrides})


@pytest.mark.parametrize(
    "credentials,problem",
    [
        ({}, "service_account must be"),
        ({"service_account": {"type": "service_account"}, "subject": "a@b.c"}, "service_account has no client_email"),
        ({"service_account": '{"type": "service_account"}', "subject": "a@b.c"}, "has no private_key"),
        ({"service_account": {"type": "authorized_user"}, "subject": "a@b.c"}, "service_account must be"),
        ({"service_account": {"type": "service_account"}, "subject": "nobody"}, "subject must be"),
    ],
)
def test_credentials_of_the_wrong_shape_are_refused(credentials, problem):
    with pytest.raises(Invalid, match=problem):
        GoogleProvider.credentials_clean(credentials)


def test_the_access_token_is_shared_by_every_worker(fake_google, google_credentials):
    cleaned = GoogleProvider.credentials_clean(google_credentials)
    GoogleProvider(credentials=cleaned).changes_list(ROOM, token=None, window=WINDOW)
    before = fake_google.token_requests

    second = GoogleProvider(credentials=cleaned)  # another worker
    second.changes_list(ROOM, token=None, window=WINDOW)

    assert fake_google.token_requests == before
    assert second.requests == 1


def test_a_retried_create_never_makes_a_second_event(google, fake_google):
    first = google.event_create(ROOM, _ours())
    again = google.event_create(ROOM, _ours(title="Planning (retried)"))

    assert first.id == again.id == event_id_for("0" * 31 + "1")
    [event] = fake_google.live_events(ROOM)
    assert event["summary"] == "Planning (retried)"
    assert event["extendedProperties"]["private"][BOOKING_PROPERTY] == "0" * 31 + "1"
    assert first.room_response == RoomResponse.OWNER


def test_our_events_read_back_with_their_booking_key(google, fake_google):
    google.event_create(ROOM, _ours())

    [event] = google.changes_list(ROOM, token=None, window=WINDOW).events

    assert event.booking_key == "0" * 31 + "1"
    assert (event.start, event.end, event.title) == (local(2026, 3, 3, 10), local(2026, 3, 3, 11), "Planning")


def test_someone_elses_event_reads_with_the_rooms_answer_and_the_people(google, fake_google):
    fake_google.user_event_create(
        ALICE,
        summary="Review",
        start=local(2026, 3, 3, 10),
        end=local(2026, 3, 3, 11),
        rooms=(ROOM,),
        attendees=("x@elsewhere.test", "y@elsewhere.test"),
    )

    [event] = google.changes_list(ROOM, token=None, window=WINDOW).events

    assert (event.organiser_email, event.room_response, event.attendee_count) == (ALICE, RoomResponse.ACCEPTED, 2)
    assert event.booking_key == ""


def test_the_room_declines_with_a_reason(google, fake_google):
    event_id = fake_google.user_event_create(
        ALICE, summary="Review", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    [event] = google.changes_list(ROOM, token=None, window=WINDOW).events

    google.event_respond(ROOM, event, accept=False, comment="It is already booked.")

    shown = fake_google.event_on(ALICE, event_id)  # the organiser sees the room's answer
    room = next(a for a in shown["attendees"] if a["email"] == ROOM)
    assert (room["responseStatus"], room["comment"]) == ("declined", "It is already booked.")


def test_a_series_rule_is_read_with_its_zone(google, fake_google):
    master = fake_google.user_event_create(
        ALICE,
        summary="Weekly",
        start=local(2026, 3, 5, 9),
        end=local(2026, 3, 5, 10),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=5", "EXDATE:20260312T080000Z"),
    )

    info = google.series_get(ROOM, master)

    assert (info.rrule, info.timezone, info.start) == (
        "FREQ=WEEKLY;BYDAY=TH;COUNT=5",
        "Europe/Copenhagen",
        local(2026, 3, 5, 9),
    )
    assert info.exdates == (datetime(2026, 3, 12, 8, tzinfo=UTC),)


def test_notifications_are_parsed_from_googles_headers():
    headers = {"X-Goog-Channel-ID": "c1", "X-Goog-Channel-Token": "t", "X-Goog-Resource-State": "exists"}
    [note] = GoogleProvider.notifications_parse(headers=headers, body=b"")
    assert (note.watch_id, note.token, note.kind) == ("c1", "t", "change")
    with pytest.raises(ValueError):
        GoogleProvider.notifications_parse(headers={}, body=b"")
