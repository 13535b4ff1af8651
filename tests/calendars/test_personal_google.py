"""Personal calendars with Google (CALENDAR.md, "Personal calendars"): a member connects their own calendar at the
fake Google's consent page (authorization code, PKCE, state), their bookings appear in it with the room, the site's
address and their guests; an event inviting a room's booking address becomes a booking, a conflicting one is declined
with the reason and emailed; a revoked grant asks them to reconnect once, and nobody else's sync stops."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core import mail
from django.test import Client

from bookings import services as booking_services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from calendars import personal
from calendars.choices import EventLinkState, PersonalStatus
from calendars.models import PersonalCalendar, PersonalEvent
from labs import rights
from tests.calendars.google_support import ALICE, BOB, live_bookings, local
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "labs-portal.apps.googleusercontent.com"
CLIENT_SECRET = "fake-portal-secret"  # noqa: S105 - the fake's test credential


@pytest.fixture
def google_oauth(fake_google, google_server, settings):
    fake_google.add_oauth_client(CLIENT_ID, CLIENT_SECRET)
    settings.GOOGLE_OAUTH_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{google_server.base_url}/o/oauth2/v2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{google_server.base_url}/token"
    settings.GOOGLE_OAUTH_REVOKE_URL = f"{google_server.base_url}/revoke"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_BASE_URL = "http://testserver"
    return fake_google


@pytest.fixture
def alice(site, company):
    return PersonFactory(user__username="alice", user__email=ALICE, site=site, company=company)


@pytest.fixture
def bob(site, company):
    return PersonFactory(user__username="bob", user__email=BOB, site=site, company=company)


def browser_for(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def connect(client: Client, provider: str = "google"):
    """Follow the consent round trip as a browser would: the portal, the provider's consent page, the callback."""
    start = client.get(f"/calendar/connect/{provider}/")
    assert start.status_code == 302, start.content[:300]
    consent = requests.get(start["Location"], allow_redirects=False, timeout=10, verify=False)  # noqa: S501
    assert consent.status_code == 302, consent.text[:300]
    back = consent.headers["Location"]
    assert urlsplit(back).path == f"/calendar/callback/{provider}/"
    return start, client.get(back)


def sync(person):
    return personal.personal_sync(calendar_id=PersonalCalendar.objects.get(person=person).pk)


def test_connecting_uses_pkce_and_state_and_keeps_the_refresh_token_encrypted(google_oauth, alice, committed):
    client = browser_for(alice)
    with committed():
        start, done = connect(client)
    asked = parse_qs(urlsplit(start["Location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["state"][0]
    assert asked["scope"] == ["openid email https://www.googleapis.com/auth/calendar.events"]
    assert "code_verifier" not in start["Location"]
    assert done.status_code == 302 and done["Location"] == "/calendar/"
    calendar = PersonalCalendar.objects.get(person=alice)
    assert (calendar.provider, calendar.account, calendar.status) == ("google", ALICE, "connected")
    assert calendar.refresh_token.startswith("1//fake-")
    assert calendar.refresh_token not in calendar.refresh_token_ciphertext
    answer = browser_for(alice).get("/api/v1/me/calendar/").json()
    assert answer["provider"] == "google" and answer["account"] == ALICE and answer["status"] == "connected"
    assert answer["last_sync_at"] is not None  # the first sync ran after commit


def test_a_callback_with_a_forged_state_connects_nothing(google_oauth, alice):
    client = browser_for(alice)
    start = client.get("/calendar/connect/google/")
    consent = requests.get(start["Location"], allow_redirects=False, timeout=10)
    forged = consent.headers["Location"].replace("state=", "state=forged")
    client.get(forged)
    assert not PersonalCalendar.objects.filter(person=alice).exists()


def test_bookings_appear_in_the_organisers_calendar_with_guests_and_follow_changes(
    google_oauth, alice, fjord, committed, site
):
    site.address = "Strandgade 1, 1401 København K"
    site.save()
    with committed():
        connect(browser_for(alice))
    with committed():
        booking = booking_services.booking_create(
            actor=alice,
            room=fjord,
            start=local(2026, 3, 3, 10),
            end=local(2026, 3, 3, 11),
            title="Planning",
            attendees=[BOB, "guest@elsewhere.test"],
        )
    [event] = [e for e in google_oauth.live_events(ALICE) if e["summary"] == "Planning"]
    assert event["location"] == "Fjord, Copenhagen, Strandgade 1, 1401 København K"
    assert sorted(a["email"] for a in event["attendees"]) == [BOB, "guest@elsewhere.test"]
    assert event["start"]["dateTime"] == "2026-03-03T10:00:00+01:00"
    # Bob's calendar has the invitation (the meeting notice).
    assert [e["summary"] for e in google_oauth.live_events(BOB)] == ["Planning"]

    with committed():
        booking_services.booking_update(actor=alice, booking=booking, end=local(2026, 3, 3, 12))
    [event] = [e for e in google_oauth.live_events(ALICE) if e["summary"] == "Planning"]
    assert event["end"]["dateTime"] == "2026-03-03T12:00:00+01:00"

    with committed():
        booking_services.booking_cancel(actor=alice, booking=booking)
    assert [e for e in google_oauth.live_events(ALICE) if e["summary"] == "Planning"] == []
    assert PersonalEvent.objects.get(booking=booking).state == EventLinkState.ENDED


def test_an_event_inviting_a_booking_address_becomes_a_booking_and_its_changes_follow(
    google_oauth, alice, havn, committed
):
    with committed():
        connect(browser_for(alice))
    address = personal.booking_address(havn)
    assert address.endswith("@book.labs.localhost")
    event_id = google_oauth.user_event_create(
        ALICE,
        summary="Design review",
        start=local(2026, 3, 4, 13),
        end=local(2026, 3, 4, 14),
        attendees=(address, BOB),
    )
    with committed():
        result = sync(alice)
    assert result.booked == 1
    [booking] = live_bookings(havn)
    assert (booking.organiser, booking.title, booking.source) == (alice, "Design review", BookingSource.GOOGLE)
    assert (booking.start, booking.end) == (local(2026, 3, 4, 13), local(2026, 3, 4, 14))
    assert booking.attendees == [BOB]
    # Not written back to her calendar as a second event.
    assert len([e for e in google_oauth.live_events(ALICE) if e["summary"] == "Design review"]) == 1

    google_oauth.user_event_patch(event_id, start=local(2026, 3, 4, 15), end=local(2026, 3, 4, 16))
    with committed():
        sync(alice)
    booking.refresh_from_db()
    assert (booking.start, booking.end, booking.status) == (local(2026, 3, 4, 15), local(2026, 3, 4, 16), "confirmed")

    google_oauth.user_event_delete(event_id)
    with committed():
        sync(alice)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_a_conflicting_invitation_is_declined_in_her_calendar_with_the_reason_and_emailed(
    google_oauth, alice, member, havn, committed
):
    booking_services.booking_create(actor=member, room=havn, start=local(2026, 3, 4, 13), end=local(2026, 3, 4, 14))
    with committed():
        connect(browser_for(alice))
    mail.outbox.clear()
    address = personal.booking_address(havn)
    event_id = google_oauth.user_event_create(
        ALICE, summary="Clash", start=local(2026, 3, 4, 13, 30), end=local(2026, 3, 4, 14, 30), attendees=(address,)
    )
    with committed():
        result = sync(alice)
    assert (result.booked, result.declined) == (0, 1)
    assert len(live_bookings(havn)) == 1
    [room] = [a for a in google_oauth.event_on(ALICE, event_id)["attendees"] if a["email"] == address]
    assert room["responseStatus"] == "declined" and room["comment"]
    [message] = mail.outbox
    assert message.to == [ALICE] and "Havn" in message.subject and room["comment"] in message.body
    with committed():
        sync(alice)  # the decline's echo is not declined (or mailed) again
    assert len(mail.outbox) == 1


def test_a_revoked_grant_asks_to_reconnect_once_and_other_people_sync_on(
    google_oauth, alice, bob, fjord, havn, committed
):
    with committed():
        connect(browser_for(alice))
        connect(browser_for(bob))
    mail.outbox.clear()
    google_oauth.revoke_grant(ALICE)
    with committed():
        booking_services.booking_create(actor=alice, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
        booking_services.booking_create(
            actor=bob, room=havn, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), title="Bob's"
        )
    assert PersonalCalendar.objects.get(person=alice).status == PersonalStatus.NEEDS_RECONNECT
    assert PersonalCalendar.objects.get(person=bob).status == PersonalStatus.CONNECTED
    assert [e["summary"] for e in google_oauth.live_events(BOB)] == ["Bob's"]
    with committed():
        sync(alice)
        personal.personal_reconcile()
    assert [m.to for m in mail.outbox] == [[ALICE]]
    assert "Reconnect" in mail.outbox[0].subject
    page = browser_for(alice).get("/calendar/").content.decode()
    assert "calendar-reconnect-banner" in page and "Reconnect" in page
    assert browser_for(alice).get("/api/v1/me/calendar/").json()["status"] == "needs_reconnect"
    assert "calendar-reconnect-banner" not in browser_for(bob).get("/calendar/").content.decode()

    with committed():  # reconnecting puts it right
        connect(browser_for(alice))
    assert PersonalCalendar.objects.get(person=alice).status == PersonalStatus.CONNECTED
    assert len([e for e in google_oauth.live_events(ALICE) if e["summary"] == "Fjord"]) == 1


def test_disconnecting_revokes_at_google_and_deletes_what_was_synced(google_oauth, alice, fjord, committed):
    with committed():
        connect(browser_for(alice))
        booking_services.booking_create(actor=alice, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    assert PersonalEvent.objects.filter(calendar__person=alice).count() == 1
    assert google_oauth.grants_of(ALICE) == 1
    response = browser_for(alice).delete("/api/v1/me/calendar/")
    assert response.status_code == 204
    assert google_oauth.grants_of(ALICE) == 0
    assert not PersonalCalendar.objects.filter(person=alice).exists()
    assert not PersonalEvent.objects.exists()
    assert Booking.objects.filter(organiser=alice).count() == 1  # bookings stay
    assert browser_for(alice).get("/api/v1/me/calendar/").json() == {
        "provider": None,
        "account": None,
        "status": "none",
        "last_sync_at": None,
    }


def test_export_and_erasure_cover_the_connection_and_synced_events(google_oauth, alice, fjord, committed):
    with committed():
        connect(browser_for(alice))
        booking_services.booking_create(actor=alice, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    [source] = [s for s in rights.sources() if s.name == "calendars"]
    exported = [row for rows in source.export(alice) for row in rows]
    assert {type(row).__name__ for row in exported} == {"PersonalCalendar", "PersonalEvent"}  # Fjord is not linked
    source.erase(alice, "erased-1")
    assert not PersonalCalendar.objects.filter(person=alice).exists() and not PersonalEvent.objects.exists()
    assert google_oauth.grants_of(ALICE) == 0


def test_the_room_page_shows_its_booking_address(alice, havn):
    page = browser_for(alice).get(f"/rooms/{havn.pk}/").content.decode()
    assert personal.booking_address(havn) in page


def test_a_series_is_one_recurring_event_and_a_cancelled_occurrence_leaves_it(google_oauth, alice, fjord, committed):
    with committed():
        connect(browser_for(alice))
    with committed():
        made = booking_services.booking_series_create(
            actor=alice,
            room=fjord,
            start=local(2026, 3, 3, 9),
            end=local(2026, 3, 3, 10),
            rrule="FREQ=WEEKLY;COUNT=4",
            title="Weekly",
            attendees=[BOB],
        )
    [series] = [e for e in google_oauth.live_events(ALICE, single_events=False) if e["summary"] == "Weekly"]
    assert series["recurrence"][0].startswith("RRULE:FREQ=WEEKLY;UNTIL=")
    assert [a["email"] for a in series["attendees"]] == [BOB]
    starts = [e["start"]["dateTime"] for e in google_oauth.live_events(ALICE) if e["summary"] == "Weekly"]
    assert starts == [f"2026-03-{d:02d}T09:00:00+01:00" for d in (3, 10, 17, 24)]

    with committed():
        booking_services.booking_cancel(actor=alice, booking=made.bookings[1])
    starts = [e["start"]["dateTime"] for e in google_oauth.live_events(ALICE) if e["summary"] == "Weekly"]
    assert starts == [f"2026-03-{d:02d}T09:00:00+01:00" for d in (3, 17, 24)]
    assert len([e for e in google_oauth.live_events(ALICE, single_events=False) if e["summary"] == "Weekly"]) == 1
    with committed():  # the series' own instances coming back are not bookings
        sync(alice)
    assert Booking.objects.filter(organiser=alice, status="confirmed").count() == 3


def test_my_calendar_needs_a_signed_in_person(anon_client):
    assert anon_client.get("/api/v1/me/calendar/").status_code in {401, 403}
    assert anon_client.delete("/api/v1/me/calendar/").status_code in {401, 403}


def test_an_unknown_or_unconfigured_provider_is_not_found(alice, settings):
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    client = browser_for(alice)
    assert client.get("/calendar/connect/yahoo/").status_code == 404
    assert client.get("/calendar/connect/google/").status_code == 404


def test_a_booking_address_named_as_the_location_books_the_room(google_oauth, alice, havn, committed):
    with committed():
        connect(browser_for(alice))
    event_id = google_oauth.user_event_create(
        ALICE, summary="Offsite prep", start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10)
    )
    google_oauth.user_event_patch(event_id, location=f"Room: {personal.booking_address(havn)}")
    with committed():
        sync(alice)
    [booking] = live_bookings(havn)
    assert (booking.organiser, booking.title) == (alice, "Offsite prep")


def test_a_push_notification_of_her_calendar_queues_its_sync(google_oauth, alice, havn, committed, client):
    with committed():
        connect(browser_for(alice))
    google_oauth.take_notifications()
    google_oauth.user_event_create(
        ALICE,
        summary="Pushed",
        start=local(2026, 3, 4, 9),
        end=local(2026, 3, 4, 10),
        attendees=(personal.booking_address(havn),),
    )
    notes = google_oauth.take_notifications()
    assert notes
    with committed():
        for note in notes:
            assert client.post("/api/v1/calendars/google/notifications/", headers=note["headers"]).status_code == 200
    assert [b.title for b in live_bookings(havn)] == ["Pushed"]
    forged = {**notes[0]["headers"], "X-Goog-Channel-Token": "forged"}
    assert client.post("/api/v1/calendars/google/notifications/", headers=forged).status_code == 404


def test_an_invitation_breaking_a_booking_rule_is_declined_with_the_rule(google_oauth, alice, havn, committed):
    with committed():
        connect(browser_for(alice))
    mail.outbox.clear()
    address = personal.booking_address(havn)
    event_id = google_oauth.user_event_create(
        ALICE, summary="Night shift", start=local(2026, 3, 4, 2), end=local(2026, 3, 4, 3), attendees=(address,)
    )
    with committed():
        assert sync(alice).declined == 1
    assert live_bookings(havn) == []
    [room] = [a for a in google_oauth.event_on(ALICE, event_id)["attendees"] if a["email"] == address]
    assert room["responseStatus"] == "declined"
    [message] = mail.outbox
    assert room["comment"] in message.body


def test_a_calendar_connected_by_someone_else_is_refused(google_oauth, alice, bob, committed):
    with committed():
        connect(browser_for(alice))
    google_oauth.consent_user = ALICE
    client = browser_for(bob)
    start = client.get("/calendar/connect/google/")
    hinted = start["Location"].replace("login_hint=bob%40labs.test", "login_hint=alice%40labs.test")
    consent = requests.get(hinted, allow_redirects=False, timeout=10)
    with committed():
        client.get(consent.headers["Location"])
    assert not PersonalCalendar.objects.filter(person=bob).exists()
    assert PersonalCalendar.objects.get(person=alice).status == "connected"
    assert sync(alice).error == ""  # her grant still works


def test_an_unchanged_calendar_costs_one_request(google_oauth, alice, fjord, committed):
    with committed():
        connect(browser_for(alice))
        booking_services.booking_create(actor=alice, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    with committed():
        result = sync(alice)
    assert (result.written, result.booked, result.requests) == (0, 0, 1)  # events.list with the sync token


def test_the_export_includes_the_room_calendars_events_of_her_bookings(google_oauth, linked, alice, fjord, committed):
    with committed():
        connect(browser_for(alice))
        booking_services.booking_create(actor=alice, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    [source] = [s for s in rights.sources() if s.name == "calendars"]
    exported = [row for rows in source.export(alice) for row in rows]
    assert sorted(type(row).__name__ for row in exported) == ["EventLink", "PersonalCalendar", "PersonalEvent"]
    # Her booking is on Fjord's room calendar and in her own, each written once.
    assert [e["summary"] for e in google_oauth.live_events(ALICE)] == ["Fjord"]


def test_a_recurring_invitation_books_each_occurrence_and_one_cancelled_instance_frees_one(
    google_oauth, alice, havn, committed
):
    with committed():
        connect(browser_for(alice))
    event_id = google_oauth.user_event_create(
        ALICE,
        summary="Stand-up",
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 9, 30),
        attendees=(personal.booking_address(havn),),
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=3",),
    )
    with committed():
        assert sync(alice).booked == 3
    assert [b.start for b in live_bookings(havn)] == [local(2026, 3, d, 9) for d in (3, 10, 17)]
    [second] = [e for e in google_oauth.live_events(ALICE) if e["start"]["dateTime"].startswith("2026-03-10")]
    google_oauth.user_event_patch(second["id"], status="cancelled")
    with committed():
        sync(alice)
    assert [b.start for b in live_bookings(havn)] == [local(2026, 3, d, 9) for d in (3, 17)]
    assert event_id


def test_a_meeting_booked_from_a_room_calendar_is_not_written_to_her_calendar_again(
    google_oauth, linked, alice, fjord, committed
):
    from tests.calendars.google_support import ROOM, sync_now

    with committed():
        connect(browser_for(alice))
    google_oauth.user_event_create(
        ALICE, summary="Board", start=local(2026, 3, 3, 13), end=local(2026, 3, 3, 14), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
        sync(alice)
    [booking] = live_bookings(fjord)
    assert booking.organiser == alice
    assert [e["summary"] for e in google_oauth.live_events(ALICE)] == ["Board"]
