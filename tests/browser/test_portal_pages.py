"""Every portal page as a person sees it, in Chromium in Copenhagen's zone, on a desktop (1280 px) and on a phone
(390 x 844): the demo member and the demo staff (reception) on the demo site, at 21:23 on a November evening in
Copenhagen (20:23 UTC), when the old pages said "20:23 local time", proposed a room for 21:30-22:30 after closing, and
left the date field empty.

Checks: the clock shows local time and names the zone; date, time and datetime fields hold values a browser shows
(YYYY-MM-DD, HH:MM) in the site's zone; the first "Find rooms" / "Find desks" works; booked, then cancelled on a phone;
nothing is wider than the screen; no console error (the CSP refuses inline code). Set BROWSER_SCREENSHOTS=/dir to keep
the screenshots.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from bookings.services import policy_for
from labs.models import Site
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_portal_sign_in import screenshot_path

pytestmark = pytest.mark.browser

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
EVENING = datetime(2026, 11, 29, 20, 23, tzinfo=UTC)  # 21:23 in Copenhagen
SIZES = {"desktop": DESKTOP, "phone": PHONE}
MEMBER_PAGES = ["/", "/rooms/", "/desks/", "/bookings/", "/workspace/", "/badge/", "/visitors/", "/account/data/"]
STAFF_PAGES = ["/", "/reception/", "/rooms/", "/desks/", "/bookings/", "/workspace/", "/badge/", "/visitors/"]


@pytest.fixture
def evening(settings):
    """The demo site at 21:23 in Copenhagen; the clock runs on from there."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(EVENING, tick=True):
        call_command("demo_site", stdout=StringIO())
        yield


def sign_in_as(page, live_server, username: str) -> None:
    """The demo's password, and for staff the code of the demo authenticator, as a person would type them."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.browser.conftest import sign_in

    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    sign_in(page, live_server, username, "demo", authenticator=device)


def fits(page) -> bool:
    """Nothing is wider than the viewport (no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def overflowing(page) -> list[str]:
    """The innermost elements that reach past the viewport's right edge (for the failure message)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('body *')).filter(el => {
             const r = el.getBoundingClientRect();
             return r.right > window.innerWidth + 0.5 && r.width > 0
               && !Array.from(el.children).some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5);
           }).slice(0, 8).map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).trim()
             .replace(/\\s+/g, '.') : '') + ' ' + Math.round(el.getBoundingClientRect().right))"""
    )


def value(page, selector: str) -> str:
    return page.locator(selector).first.input_value()


def _expected_window() -> tuple[str, str]:
    """After closing, the next bookable hour is tomorrow at opening (the site's policy)."""
    opens = policy_for(Site.objects.get(slug="cph")).opens_at
    tomorrow = (EVENING.astimezone(CPH) + timedelta(days=1)).date()
    return tomorrow.isoformat(), f"{opens:%H:%M}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("username", "paths"), [("member", MEMBER_PAGES), ("staff", STAFF_PAGES)])
def test_every_page_fits_and_shows_local_time(page, live_server, evening, tmp_path, size, username, paths):
    from bookings.models import Room

    page.set_viewport_size(SIZES[size])
    sign_in_as(page, live_server, username)
    room_day = f"/rooms/{Room.objects.get(name='Fjord').pk}/"
    for path in [*paths, room_day]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        body = page.locator("body").inner_text()
        name = f"portal-{username}-{size}{path.replace('/', '-').rstrip('-') or '-dashboard'}.png"
        page.screenshot(path=screenshot_path(tmp_path, name), full_page=True)
        assert "UTC" not in body, path
        assert fits(page), (path, page.evaluate("document.documentElement.scrollWidth"), overflowing(page))
        for field in page.locator("input[type=date]").all():
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", field.input_value()), path  # shown, not empty
        for field in page.locator("input[type=time]").all():
            assert re.fullmatch(r"\d\d:\d\d", field.input_value()), path
    assert page.console_errors == []


@pytest.mark.parametrize("size", SIZES)
def test_the_dashboard_clock_shows_copenhagen_time(page, live_server, evening, size):
    page.set_viewport_size(SIZES[size])
    sign_in_as(page, live_server, "member")
    clock = page.locator("time.local-clock")
    assert re.fullmatch(r"Sunday 29 November, 21:2\d", clock.inner_text())
    assert "Copenhagen time" in clock.locator("xpath=..").inner_text()
    assert clock.get_attribute("datetime").endswith("+01:00")


@pytest.mark.parametrize("size", SIZES)
def test_the_first_find_rooms_works_with_what_the_form_proposes(page, live_server, evening, tmp_path, size):
    page.set_viewport_size(SIZES[size])
    sign_in_as(page, live_server, "member")
    page.goto(f"{live_server.url}/rooms/")
    day, opens = _expected_window()
    assert value(page, "input[type=date][name=date]") == day  # the browser shows it: not an empty field
    assert value(page, "input[type=time][name=start]") == opens
    assert re.fullmatch(r"\d\d:\d\d", value(page, "input[type=time][name=end]"))
    page.get_by_role("button", name="Find rooms").click()
    page.get_by_role("heading", name=re.compile(r"\d+ rooms? free")).wait_for()
    assert page.get_by_text("This field is required").count() == 0
    assert fits(page)
    page.screenshot(path=screenshot_path(tmp_path, f"rooms-found-{size}.png"), full_page=True)
    assert page.console_errors == []


@pytest.mark.parametrize("size", SIZES)
def test_the_first_find_desks_works_with_what_the_form_proposes(page, live_server, evening, size):
    page.set_viewport_size(SIZES[size])
    sign_in_as(page, live_server, "member")
    page.goto(f"{live_server.url}/desks/")
    day, opens = _expected_window()
    # The demo member already holds a desk tomorrow (one desk at a time): the proposal is the day after.
    day_after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    assert (value(page, "input[name=date]"), value(page, "input[name=start]")) == (day_after, opens)
    page.get_by_role("button", name="Find desks").click()
    page.get_by_role("heading", name=re.compile(r"\d+ desks? free")).wait_for()
    assert page.get_by_text("This field is required").count() == 0
    assert page.get_by_role("button", name=re.compile(r"^Book desk ")).count() > 0
    assert page.locator(".booking-result__refusal").count() == 0
    # Tomorrow, when they hold one, every other desk says why it is not offered, and theirs is on the plan.
    from bookings.models import Booking

    held = Booking.objects.filter(organiser__user__username="member", desk__isnull=False, start__date__gte=day)
    label = held.order_by("start").first().desk.label
    page.goto(f"{live_server.url}/desks/?date={day}&start={opens}&end=17:00")
    assert page.get_by_role("button", name=re.compile(r"^Book desk ")).count() == 0
    reasons = page.locator(".booking-result__refusal")
    assert reasons.count() > 0
    assert reasons.filter(has_text=f"You already hold desk {label} then").count() == reasons.count()
    expect(page.get_by_role("link", name=f"Desk {label}: yours")).to_be_visible()
    assert fits(page)
    assert page.console_errors == []


def test_on_a_phone_a_member_books_a_room_then_cancels_it_from_my_bookings(page, live_server, evening, tmp_path):
    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, "member")
    page.goto(f"{live_server.url}/rooms/")
    with page.expect_navigation():
        page.get_by_role("button", name="Find rooms").click()
    book = page.get_by_role("button", name=re.compile(r"^Book ")).first
    with page.expect_navigation():
        book.click()
    assert page.url.startswith(f"{live_server.url}/bookings/?booked=")
    assert fits(page), page.evaluate("document.documentElement.scrollWidth")
    day, opens = _expected_window()
    row = page.locator("tr[data-booking]").filter(has_text=f", {opens}–")
    assert row.count() == 1
    cancel = row.get_by_role("link", name="Cancel", exact=True)
    box = cancel.bounding_box()
    assert cancel.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.screenshot(path=screenshot_path(tmp_path, "my-bookings-phone.png"), full_page=True)
    with page.expect_navigation():
        cancel.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Cancel .+\?$"))).to_be_visible()
    assert fits(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("status").filter(has_text="Booking cancelled.")).to_be_visible()
    assert page.console_errors == []


@pytest.mark.parametrize("size", SIZES)
def test_the_visitor_invite_proposes_local_times(page, live_server, evening, size):
    page.set_viewport_size(SIZES[size])
    sign_in_as(page, live_server, "member")
    page.goto(f"{live_server.url}/visitors/")
    arrives = value(page, "input[type=datetime-local][name=start]")
    leaves = value(page, "input[type=datetime-local][name=end]")
    assert re.fullmatch(r"2026-11-29T21:(30|45)", arrives), arrives  # the next quarter hour in Copenhagen
    assert leaves.startswith("2026-11-29T23:")
    assert fits(page)
    assert page.console_errors == []


def test_reception_lists_the_demo_visitor_in_copenhagen_time(page, live_server, evening, tmp_path):
    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, "staff")
    page.goto(f"{live_server.url}/reception/")
    assert "times in Copenhagen time" in page.locator(".page-header").inner_text()
    row = page.locator("tr").filter(has_text="Ole Gæst")
    assert row.count() == 1
    assert re.search(r"21:\d\d–(Mon 30 Nov, )?\d\d:\d\d", row.inner_text()), row.inner_text()
    assert fits(page)
    page.screenshot(path=screenshot_path(tmp_path, "reception-phone.png"), full_page=True)
    assert page.console_errors == []


def test_the_workspace_says_until_when_in_copenhagen_time(page, live_server, settings):
    """At 10:00 in Copenhagen (09:00 UTC) the member checks in; the page says until when in local time."""
    from bookings.models import Booking

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=True):
        call_command("demo_site", stdout=StringIO())
        page.set_viewport_size(PHONE)
        sign_in_as(page, live_server, "member")
        page.goto(f"{live_server.url}/workspace/")
        with page.expect_navigation():
            page.get_by_role("button", name="Check in").click()
        text = page.locator("section[aria-labelledby=desk-title]").inner_text()
        end = Booking.objects.filter(organiser__user__username="member", status="checked_in").get().end
        assert end == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # a walk-in holds the desk to local midnight
        assert "until 24:00 (Copenhagen time)" in text, text  # the end of today: not 00:00, not 23:00 (UTC)
        assert "UTC" not in page.locator("body").inner_text()
        assert fits(page)
        assert page.console_errors == []
