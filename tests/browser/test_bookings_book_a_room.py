"""End to end in Chromium: a member finds a free room, books it and sees it in "My bookings"."""

from __future__ import annotations

import os
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Booking
from tests.bookings.factories import RoomFactory
from tests.factories import FloorFactory

pytestmark = pytest.mark.browser

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")


def test_a_member_books_a_room_and_sees_it_in_my_bookings(page, live_server, sign_in, member, site, password):
    floor = FloorFactory(site=site, level=1, name="Floor 1")
    RoomFactory(site=site, floor=floor, name="Fjord", capacity=6, amenities=["screen", "video"])
    RoomFactory(site=site, floor=floor, name="Nook", capacity=2, amenities=["screen"])
    day = timezone.now().astimezone(CPH).date() + timedelta(days=2)
    sign_in(page, live_server, "member", password)

    with page.expect_navigation():
        page.get_by_role("link", name="Rooms").first.click()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("10:00")
    page.get_by_label("To").fill("11:00")
    page.get_by_label("People").fill("4")
    page.get_by_label("Video").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Find rooms").click()

    results = page.get_by_role("list").filter(has_text="Book Fjord")
    expect(page.get_by_role("heading", name="1 room free")).to_be_visible()
    assert page.get_by_text("Nook").count() == 0
    results.get_by_label("Title for Fjord").fill("Design review")
    with page.expect_navigation():
        page.get_by_role("button", name="Book Fjord").click()

    assert page.url.startswith(f"{live_server.url}/bookings/?booked=")
    expect(page.get_by_role("status").filter(has_text="Booked Fjord")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Design review")
    expect(row.get_by_role("link", name="Fjord")).to_be_visible()
    assert "10:00–11:00" in row.inner_text()
    booking = Booking.objects.get(organiser=member)
    assert booking.start.astimezone(CPH).hour == 10
    assert booking.source == "portal"
    assert page.console_errors == []
    if os.environ.get("BROWSER_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BROWSER_SCREENSHOTS']}/bookings-my-bookings.png", full_page=True)


@pytest.fixture
def phone(browser_context_args):
    from tests.browser.conftest import PHONE

    return {**browser_context_args, "viewport": PHONE}


def test_on_a_closed_day_the_search_says_so_for_every_room_on_a_phone(
    browser, live_server, transactional_db, phone, sign_in, member, site, password
):
    from bookings.models import Closure

    floor = FloorFactory(site=site, level=1, name="Floor 1")
    RoomFactory(site=site, floor=floor, name="Fjord", capacity=6)
    RoomFactory(site=site, floor=floor, name="Nook", capacity=2)
    day = timezone.now().astimezone(CPH).date() + timedelta(days=2)
    Closure.objects.create(site=site, day=day, reason="Christmas party set-up")
    context = browser.new_context(base_url=live_server.url, **phone)
    page = context.new_page()
    try:
        sign_in(page, live_server, "member", password)
        page.goto(f"{live_server.url}/rooms/?date={day.isoformat()}&start=10:00&end=11:00")

        refusals = page.locator(".booking-result__refusal")
        assert refusals.count() == 2
        expected = f"closed on {day:%A} {day.day} {day:%B %Y} (Christmas party set-up)"
        assert expected in page.get_by_role("note").filter(has_text="is closed on").inner_text()  # said once
        assert [text.split()[-1] for text in refusals.all_inner_texts()] == ["Closed", "Closed"]
        expect(page.get_by_role("heading", name="0 rooms free")).to_be_visible()  # not "2 rooms free" over 2 refusals
        assert page.get_by_text("Christmas party set-up").count() == 1
        assert page.get_by_role("button", name="Book Fjord").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        if os.environ.get("BROWSER_SCREENSHOTS"):  # for a look (tests/browser/test_portal_sign_in.py)
            page.screenshot(path=f"{os.environ['BROWSER_SCREENSHOTS']}/closed-day-search-phone.png", full_page=True)
    finally:
        context.close()


def test_a_rooms_closed_day_says_why_once_in_danish_on_a_phone(
    browser, live_server, transactional_db, phone, member, site, password, tmp_path
):
    from pathlib import Path

    from django.utils import translation

    from bookings.models import Closure
    from labs.dates import long_day

    floor = FloorFactory(site=site, level=1, name="Floor 1")
    fjord = RoomFactory(site=site, floor=floor, name="Fjord", capacity=6)
    day = timezone.now().astimezone(CPH).date() + timedelta(days=2)
    Closure.objects.create(site=site, day=day, reason="Juleforberedelse")
    with translation.override("da"):
        danish_day = long_day(day)  # "mandag den 30. november 2026"
    context = browser.new_context(
        base_url=live_server.url, **{**phone, "locale": "da-DK", "timezone_id": "Europe/Copenhagen"}
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        page.goto(f"{live_server.url}/sign-in/")
        page.get_by_label("Brugernavn").fill("member")
        page.get_by_label("Adgangskode").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log ind").click()
        page.goto(f"{live_server.url}/rooms/{fjord.pk}/?date={day.isoformat()}")

        note = page.get_by_role("note")
        assert note.inner_text() == f"{site.name} er lukket {danish_day} (Juleforberedelse)."
        assert " den " in danish_day and page.get_by_text(danish_day, exact=True).is_visible()  # the day heading
        hours = page.locator(".day-grid__hour")
        assert hours.count() > 5
        assert set(page.locator(".day-grid__state").all_inner_texts()) == {"Lukket"}
        assert page.get_by_text("Juleforberedelse").count() == 1  # the reason once, not once an hour
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
        shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
        page.screenshot(path=str(shots / "room-day-closed-phone-da.png"), full_page=True)
    finally:
        context.close()
