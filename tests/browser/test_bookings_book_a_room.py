"""End to end in Chromium: a member finds a free room, books it and sees it in "My bookings"."""

from __future__ import annotations

import os
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

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

    page.get_by_role("link", name="Rooms").first.click()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("From").fill("10:00")
    page.get_by_label("To").fill("11:00")
    page.get_by_label("People").fill("4")
    page.get_by_label("Video").check()
    page.get_by_role("button", name="Find rooms").click()

    results = page.get_by_role("list").filter(has_text="Book Fjord")
    assert page.get_by_role("heading", name="1 room free").is_visible()
    assert page.get_by_text("Nook").count() == 0
    results.get_by_label("Title for Fjord").fill("Design review")
    with page.expect_navigation():
        page.get_by_role("button", name="Book Fjord").click()

    assert page.url.startswith(f"{live_server.url}/bookings/?booked=")
    assert page.get_by_role("status").filter(has_text="Booked Fjord").is_visible()
    row = page.get_by_role("row").filter(has_text="Design review")
    assert row.get_by_role("link", name="Fjord").is_visible()
    assert "10:00–11:00" in row.inner_text()
    booking = Booking.objects.get(organiser=member)
    assert booking.start.astimezone(CPH).hour == 10
    assert booking.source == "portal"
    assert page.console_errors == []
    if os.environ.get("BROWSER_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BROWSER_SCREENSHOTS']}/bookings-my-bookings.png", full_page=True)
