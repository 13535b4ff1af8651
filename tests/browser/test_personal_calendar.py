"""End to end in Chromium: a member connects their Google calendar at the fake Google's consent page, books a room in
the portal and finds the meeting (with its guests) in that calendar; invites another room's booking address from the
calendar and finds the booking in the portal; then the grant is revoked at Google, and the portal asks to reconnect,
with one email."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
import requests
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Booking
from calendars import personal
from calendars.fakes.google import FakeGoogle, Tenant
from calendars.fakes.server import FakeServer
from calendars.models import PersonalCalendar
from tests.bookings.factories import RoomFactory
from tests.factories import FloorFactory, PersonFactory

pytestmark = pytest.mark.browser

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
ALICE = "alice@labs.test"
BOB = "bob@labs.test"
CLIENT_ID = "labs-portal.apps.googleusercontent.com"
CLIENT_SECRET = "fake-portal-secret"  # noqa: S105 - the fake's test credential


@pytest.fixture
def google(settings, live_server):
    tenant = Tenant(domain="labs.test", customer="C0labs", timezone="Europe/Copenhagen")
    tenant.add_user(ALICE, name="Alice Jensen")
    tenant.add_user(BOB, name="Bob Berg")
    fake = FakeGoogle(tenant)
    fake.add_oauth_client(CLIENT_ID, CLIENT_SECRET)
    server = FakeServer(fake).start()
    settings.GOOGLE_API_ENDPOINT = f"{server.base_url}/calendar/v3/"
    settings.GOOGLE_OAUTH_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_OAUTH_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{server.base_url}/o/oauth2/v2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{server.base_url}/token"
    settings.GOOGLE_OAUTH_REVOKE_URL = f"{server.base_url}/revoke"
    settings.PUBLIC_BASE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield fake
    server.stop()


def test_a_member_connects_google_books_and_is_asked_to_reconnect(
    page, live_server, sign_in, site, company, password, google
):
    site.address = "Strandgade 1, København"
    site.save()
    PersonFactory(user__username="alice", user__email=ALICE, site=site, company=company)
    floor = FloorFactory(site=site, level=1, name="Floor 1")
    RoomFactory(site=site, floor=floor, name="Fjord", capacity=6, amenities=["screen"])
    havn = RoomFactory(site=site, floor=floor, name="Havn", capacity=8, amenities=["screen"])
    sign_in(page, live_server, "alice", password)

    # Connect at the consent page of the fake Google (it approves its signed-in user at once).
    page.get_by_role("link", name="My calendar").first.click()
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.wait_for_url(f"{live_server.url}/calendar/")
    expect(page.get_by_role("status").filter(has_text=f"Your calendar {ALICE} is connected")).to_be_visible()

    # Book Fjord in the portal with a guest: the meeting appears in her Google calendar, Bob invited.
    day = timezone.now().astimezone(CPH).date() + timedelta(days=2)
    with page.expect_navigation():
        page.get_by_role("link", name="Rooms").first.click()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("10:00")
    page.get_by_label("To").fill("11:00")
    page.get_by_label("People").fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Find rooms").click()
    page.get_by_label("Title for Fjord").fill("Design review")
    page.get_by_label("Guests for Fjord").fill(BOB)
    with page.expect_navigation():
        page.get_by_role("button", name="Book Fjord").click()
    [event] = [e for e in google.live_events(ALICE) if e["summary"] == "Design review"]
    assert [a["email"] for a in event["attendees"]] == [BOB]
    assert event["location"] == "Fjord, Copenhagen, Strandgade 1, København"
    assert [e["summary"] for e in google.live_events(BOB)] == ["Design review"]

    # The room page shows Havn's booking address; inviting it from Google books Havn (the push brings it).
    page.goto(f"{live_server.url}/rooms/{havn.pk}/")
    address = page.locator("#booking-address code").inner_text()
    assert address == personal.booking_address(havn)
    google.take_notifications()
    start = datetime.combine(day + timedelta(days=1), time(14), tzinfo=CPH)
    google.user_event_create(ALICE, summary="Retro", start=start, end=start + timedelta(hours=1), attendees=(address,))
    for note in google.take_notifications():
        assert requests.post(note["address"], headers=note["headers"], timeout=10).status_code == 200
    with page.expect_navigation():
        page.get_by_role("link", name="My bookings").first.click()
    row = page.get_by_role("row").filter(has_text="Retro")
    expect(row.get_by_role("link", name="Havn")).to_be_visible()
    assert Booking.objects.get(title="Retro").source == "google"

    # Revoked at Google: the next sync finds out; the portal says reconnect, and one email goes out.
    mail.outbox.clear()
    google.revoke_grant(ALICE)
    personal.personal_reconcile()
    personal.personal_reconcile()
    page.goto(f"{live_server.url}/calendar/")
    expect(page.locator("#calendar-reconnect-banner")).to_be_visible()
    expect(page.get_by_role("link", name="Reconnect", exact=True)).to_be_visible()
    assert PersonalCalendar.objects.get(account=ALICE).status == "needs_reconnect"
    assert [m.to for m in mail.outbox] == [[ALICE]]
    assert page.console_errors == []
