"""Personal calendars with Microsoft 365, the same round trip as with Google: consent at the fake identity platform
through msal (authorization code, PKCE, state, nonce; multi-tenant app under /organizations), the booking in the
member's Outlook calendar with its attendees, an Outlook meeting inviting a room's booking address booked, a conflict
refused, a revoked consent asking once to reconnect while another person's calendar syncs on."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from bookings import services as booking_services
from bookings.choices import BookingSource
from calendars import personal
from calendars.choices import PersonalStatus
from calendars.models import PersonalCalendar
from calendars.providers import personal as personal_adapters
from tests.calendars.google_support import live_bookings, local
from tests.calendars.ms_support import ALICE, BOB, PostedForm, consent_page, post_answer
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "5e1c2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
CLIENT_SECRET = "fake-multitenant-secret"  # noqa: S105 - the fake's test credential


@pytest.fixture
def ms_oauth(ms_project, settings, monkeypatch):
    ms_project.add_multitenant_app(CLIENT_ID, CLIENT_SECRET)
    settings.MS_OAUTH_CLIENT_ID = CLIENT_ID
    settings.MS_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_BASE_URL = "http://testserver"
    monkeypatch.setattr(personal_adapters, "_ms_apps", {})
    return ms_project


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


def connect(client: Client, fake):
    start, form = consent_page(client, fake)
    return start, post_answer(client, form)


def events_of(fake, address: str, subject: str) -> list:
    return [e for e in fake.mailbox(address).events.values() if e.subject == subject]


def test_the_microsoft_round_trip(ms_oauth, alice, bob, member, fjord, havn, committed):
    # Connect: msal's flow (PKCE S256, state) against the multi-tenant authority; the account from the ID token.
    with committed():
        start, done = connect(browser_for(alice), ms_oauth)
    asked = parse_qs(urlsplit(start["Location"]).query)
    assert urlsplit(start["Location"]).path == "/organizations/oauth2/v2.0/authorize"
    assert asked["code_challenge_method"] == ["S256"] and asked["state"][0]
    assert asked["response_mode"] == ["form_post"]  # the code comes back in a POST, never in a URL
    assert "Calendars.ReadWrite" in asked["scope"][0].split()
    assert done["Location"] == "/calendar/"
    calendar = PersonalCalendar.objects.get(person=alice)
    assert (calendar.provider, calendar.account, calendar.status) == ("microsoft", ALICE, "connected")
    assert calendar.refresh_token not in calendar.refresh_token_ciphertext
    with committed():
        connect(browser_for(bob), ms_oauth)

    # Outbound: a booking she organises is an Outlook meeting she organises, its guests invited.
    with committed():
        booking_services.booking_create(
            actor=alice,
            room=fjord,
            start=local(2026, 3, 3, 10),
            end=local(2026, 3, 3, 11),
            title="Planning",
            attendees=[BOB],
        )
    [event] = events_of(ms_oauth, ALICE, "Planning")
    assert event.location.startswith("Fjord, Copenhagen")
    assert [a["address"].lower() for a in event.attendees] == [BOB]

    # Inbound: an Outlook meeting inviting Havn's booking address books Havn for her.
    address = personal.booking_address(havn)
    ms_oauth.outlook_create(
        ALICE, subject="Design review", start=local(2026, 3, 4, 13), end=local(2026, 3, 4, 14), attendees=[address]
    )
    with committed():
        assert personal.personal_sync(calendar_id=calendar.pk).booked == 1
    [booking] = live_bookings(havn)
    assert (booking.organiser, booking.title, booking.source) == (alice, "Design review", BookingSource.MICROSOFT)

    # A conflict is refused: the booking address leaves the meeting, and she is told why by email.
    booking_services.booking_create(actor=member, room=havn, start=local(2026, 3, 5, 9), end=local(2026, 3, 5, 10))
    mail.outbox.clear()
    clash = ms_oauth.outlook_create(
        ALICE, subject="Clash", start=local(2026, 3, 5, 9), end=local(2026, 3, 5, 10), attendees=[address]
    )
    with committed():
        assert personal.personal_sync(calendar_id=calendar.pk).declined == 1
    clashed = ms_oauth.mailbox(ALICE).events[clash.id]
    assert address not in [a["address"].lower() for a in clashed.attendees]
    assert f"{address} declined: It is already booked" in clashed.body
    assert [m.to for m in mail.outbox] == [[ALICE]]

    # Consent revoked: needs_reconnect, one email; Bob's calendar syncs on.
    mail.outbox.clear()
    ms_oauth.revoke_grant(ALICE)
    with committed():
        booking_services.booking_create(
            actor=bob, room=fjord, start=local(2026, 3, 6, 9), end=local(2026, 3, 6, 10), title="Bob's"
        )
        personal.personal_reconcile()
        personal.personal_reconcile()
    assert PersonalCalendar.objects.get(person=alice).status == PersonalStatus.NEEDS_RECONNECT
    assert PersonalCalendar.objects.get(person=bob).status == PersonalStatus.CONNECTED
    assert len(events_of(ms_oauth, BOB, "Bob's")) == 1
    assert [m.to for m in mail.outbox] == [[ALICE]]
    assert "calendar-reconnect-banner" in browser_for(alice).get("/calendar/").content.decode()


def not_connected(done, person) -> str:
    assert done.status_code == 302 and done["Location"] == "/calendar/"
    assert not PersonalCalendar.objects.filter(person=person).exists()
    assert done.cookies["labs_calendar_answer"].value == ""  # the kept answer is deleted whatever came of it
    return " ".join(str(m) for m in get_messages(done.wsgi_request))


def test_a_posted_answer_counts_for_five_minutes(ms_oauth, alice, frozen):
    client = browser_for(alice)
    _start, form = consent_page(client, ms_oauth)
    posted = Client(enforce_csrf_checks=True).post(urlsplit(form.action).path, form.fields)
    client.cookies.update(posted.cookies)
    frozen.shift(timedelta(minutes=6))  # the browser comes back with it six minutes later
    said = not_connected(client.get(posted["Location"]), alice)
    assert "Your calendar was not connected" in said


def test_a_post_that_is_not_the_answer_to_this_browsers_consent_connects_nothing(ms_oauth, alice, bob):
    # Bob's genuine answer, posted into Alice's browser while her own consent is pending: the states differ.
    alices_browser = browser_for(alice)
    _start, alices = consent_page(alices_browser, ms_oauth)
    _start, bobs = consent_page(browser_for(bob), ms_oauth)
    assert bobs.fields["state"] != alices.fields["state"]
    assert "does not match" in not_connected(post_answer(alices_browser, bobs), alice)
    # A forged answer, with no consent pending in that browser.
    assert "does not belong to a consent" in not_connected(post_answer(browser_for(alice), PostedForm(FORGED)), alice)


FORGED = (
    '<form method="POST" action="http://testserver/calendar/callback/microsoft/">'
    '<input type="hidden" name="code" value="0.forged"><input type="hidden" name="state" value="guess"></form>'
)


def test_a_series_is_one_outlook_series_and_a_cancelled_occurrence_leaves_it(ms_oauth, alice, fjord, committed):
    with committed():
        connect(browser_for(alice), ms_oauth)
    with committed():
        made = booking_services.booking_series_create(
            actor=alice,
            room=fjord,
            start=local(2026, 3, 3, 9),
            end=local(2026, 3, 3, 10),
            rrule="FREQ=WEEKLY;COUNT=4",
            title="Weekly",
        )
    [series] = events_of(ms_oauth, ALICE, "Weekly")
    assert series.recurrence["pattern"]["type"] == "weekly"
    assert series.recurrence["pattern"]["daysOfWeek"] == ["tuesday"]

    def shown():
        view = ms_oauth.calendar_view(ALICE, local(2026, 3, 2), local(2026, 4, 1))
        return [i.start for i in view if i.event.subject == "Weekly"]

    assert shown() == [local(2026, 3, d, 9) for d in (3, 10, 17, 24)]
    with committed():
        booking_services.booking_cancel(actor=alice, booking=made.bookings[2])
    assert shown() == [local(2026, 3, d, 9) for d in (3, 10, 24)]
    assert len(events_of(ms_oauth, ALICE, "Weekly")) == 1
