"""Issue 13, points 1, 2, 3 and 6 in Chromium on the demo site: the Desks page's floor plan books a desk from the
keyboard; staff place desks by dragging and with the arrow keys; search greys what the rules refuse; a room's free hour
books a weekly series with attendees; staff book for someone; cancelling asks first; on a 390 x 844 phone every
bookings page fits and the web app's manifest is there.

``DOCS_SCREENSHOTS=1`` also writes docs/img/desks-plan.png (and the phone view) for docs/portal.md.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bookings import services
from bookings.models import Booking, Desk, Room
from labs.models import Floor, Person
from tests.browser.conftest import PHONE
from tests.browser.test_portal_pages import evening, fits, overflowing, sign_in_as  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
EVENING = datetime(2026, 11, 29, 20, 23, tzinfo=UTC)
DAY_AFTER = (EVENING.astimezone(CPH) + timedelta(days=2)).date()  # no demo booking of the member's that day


def _docs_screenshot(page, name: str, **kwargs) -> None:
    if os.environ.get("DOCS_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / name), **kwargs)


def test_the_desks_page_plan_books_a_desk_from_the_keyboard(page, live_server, evening):  # noqa: F811
    page.set_viewport_size({"width": 1100, "height": 1450})
    others = Person.objects.filter(site__slug="cph", user__is_active=True).exclude(
        user__username__in=["member", "staff"]
    )[:8]
    for person, desk in zip(others, Desk.objects.filter(floor__level=1).order_by("?")[:8], strict=True):
        services.booking_create(
            actor=person,
            desk=desk,
            start=datetime.combine(DAY_AFTER, time(9), tzinfo=CPH),
            end=datetime.combine(DAY_AFTER, time(13), tzinfo=CPH),
        )
    sign_in_as(page, live_server, "member")
    page.goto(f"{live_server.url}/desks/")
    page.get_by_label("Date").fill(DAY_AFTER.isoformat())
    page.get_by_label("From").fill("09:00")
    page.get_by_label("To").fill("17:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Find desks").click()

    floor_1 = page.get_by_role("group", name="Plan of Floor 1")
    assert not page.get_by_text("Swipe sideways to see the whole floor.").first.is_visible()  # it fits here
    free = floor_1.get_by_role("link", name=re.compile(r"^Book desk \S+ \(free\)$"))
    assert free.count() == Desk.objects.filter(floor__level=1, is_active=True).count() - 8
    # The plan's image loaded (an SVG shown as an image: no script in it could run).
    plan_type = "fetch(document.querySelector('.plan__svg image').getAttribute('href'))"
    assert page.evaluate(f"{plan_type}.then(r => r.headers.get('content-type'))").startswith("image/svg+xml")
    # The list stays, for screen readers and keyboards alike.
    assert (
        page.get_by_role("button", name=re.compile(r"^Book desk ")).count()
        == free.count()
        + page.get_by_role("group", name="Plan of Floor 2").get_by_role("link", name=re.compile(r"^Book desk ")).count()
    )
    assert floor_1.get_by_role("img", name=re.compile(r"^Desk \S+: taken$")).count() == 8
    _docs_screenshot(page, "desks-plan.png")

    target = free.first
    name = target.get_attribute("aria-label")
    label = re.match(r"Book desk (\S+)", name).group(1)
    target.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == name
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Book desk {label}", level=1)).to_be_visible()
    assert page.get_by_label("From").input_value() == "09:00"
    with page.expect_navigation():
        page.get_by_role("button", name=f"Book desk {label}").click()

    expect(page.get_by_role("status").filter(has_text=f"Booked desk {label}")).to_be_visible()
    expect(page.get_by_role("link", name="Add to my calendar")).to_be_visible()
    booking = Booking.objects.get(organiser__user__username="member", desk__label=label, start__date=DAY_AFTER)
    assert booking.start.astimezone(CPH).hour == 9 and booking.end.astimezone(CPH).hour == 17
    page.goto(f"{live_server.url}/desks/?date={DAY_AFTER.isoformat()}&start=10:00&end=12:00")
    assert page.get_by_role("link", name=f"Desk {label}: yours").count() == 1
    assert page.console_errors == []


def test_staff_place_a_desk_by_dragging_and_with_the_arrow_keys(page, live_server, evening):  # noqa: F811
    sign_in_as(page, live_server, "staff")
    floor = Floor.objects.get(site__slug="cph", level=1)
    desk = Desk.objects.filter(floor=floor).order_by("label").first()
    page.goto(f"{live_server.url}/floors/{floor.pk}/plan/edit/")

    mark = page.get_by_role("button", name=re.compile(rf"^Desk {desk.label}, "))
    box = mark.bounding_box()
    svg = page.locator(".plan-editor__svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(svg["x"] + svg["width"] * 0.30, svg["y"] + svg["height"] * 0.60, steps=8)
    page.mouse.up()
    mark.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # 4 x 0.5 %
    page.keyboard.press("Shift+ArrowUp")  # 5 %
    expect(page.get_by_role("status").filter(has_text=f"Desk {desk.label} moved to")).to_be_visible()
    page.get_by_role("button", name="Save positions").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    expect(page.get_by_role("button", name=re.compile(rf"^Take off the plan ?: Desk {desk.label}$"))).to_be_visible()
    assert not page.get_by_role("button", name=re.compile(rf"^Put on the plan ?: Desk {desk.label}$")).is_visible()
    page.evaluate("window.scrollTo(0, 0)")
    _docs_screenshot(page, "plan-editor.png", full_page=True)

    desk.refresh_from_db()
    assert desk.plan_x == pytest.approx(32, abs=0.6) and desk.plan_y == pytest.approx(55, abs=0.6)
    assert page.console_errors == []


def test_search_greys_what_the_rules_refuse_and_warns_of_two_rooms(page, live_server, evening):  # noqa: F811
    Room.objects.filter(name="Skov").update(min_notice_minutes=5 * 24 * 60)  # Skov: book five days ahead
    sign_in_as(page, live_server, "member")
    tomorrow = (EVENING.astimezone(CPH) + timedelta(days=1)).date()
    page.goto(f"{live_server.url}/rooms/?date={tomorrow.isoformat()}&start=10:00&end=11:00")

    # The demo member holds Havn tomorrow 10:00-11:00.
    expect(page.locator("#two-rooms").filter(has_text="Havn")).to_be_visible()
    skov = page.locator(".booking-result").filter(has=page.get_by_role("link", name="Skov", exact=True))
    assert "booking-result--refused" in skov.get_attribute("class")
    assert "Book at least 5 days ahead" in skov.inner_text()
    assert skov.get_by_role("button").count() == 0
    expect(page.get_by_role("button", name="Book Fjord")).to_be_visible()
    assert page.get_by_role("group", name="Plan of Floor 1").get_by_role("img", name=re.compile("^Skov: not bookable"))
    assert page.console_errors == []


def test_a_free_hour_of_a_rooms_day_books_a_weekly_series_with_attendees(page, live_server, evening):  # noqa: F811
    sign_in_as(page, live_server, "member")
    lyng = Room.objects.get(name="Lyng")
    page.goto(f"{live_server.url}/rooms/{lyng.pk}/?date={DAY_AFTER.isoformat()}")
    with page.expect_navigation():
        page.get_by_role("link", name="Free: book 14:00–15:00").click()

    assert page.get_by_label("From").input_value() == "14:00" and page.get_by_label("To").input_value() == "15:00"
    page.get_by_label("Title").fill("Design review")
    page.get_by_label("Attendees").fill("ada@example.com, grace@example.com")
    page.get_by_label("How often").select_option("WEEKLY")
    weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][DAY_AFTER.weekday()]
    page.get_by_label(weekday, exact=True).check()
    page.get_by_label("Times", exact=True).fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="Book Lyng").click()

    expect(page.get_by_role("status").filter(has_text="Booked Lyng 3 times")).to_be_visible()
    calendar = page.get_by_role("link", name="Add to my calendar")
    ics = page.request.get(live_server.url + calendar.get_attribute("href"))
    assert ics.headers["content-type"].startswith("text/calendar") and "SUMMARY:Design review" in ics.text()
    series = list(Booking.objects.filter(room=lyng, title="Design review").order_by("start"))
    assert [b.start.astimezone(CPH).date() for b in series] == [DAY_AFTER + timedelta(weeks=n) for n in range(3)]
    assert series[0].attendees == ["ada@example.com", "grace@example.com"]
    assert page.console_errors == []


def test_staff_book_a_room_on_a_members_behalf(page, live_server, evening):  # noqa: F811
    sign_in_as(page, live_server, "staff")
    member = Person.objects.get(user__username="member")
    storm = Room.objects.get(name="Storm")
    page.goto(f"{live_server.url}/book/new/?room={storm.pk}&date={DAY_AFTER.isoformat()}&start=15:00&end=16:00")
    page.get_by_label("Book for").select_option(str(member.pk))
    with page.expect_navigation():
        page.get_by_role("button", name="Book Storm").click()

    booking = Booking.objects.get(room=storm, start__date=DAY_AFTER)
    assert booking.organiser == member and booking.created_by.user.username == "staff"
    assert page.console_errors == []


def test_on_a_390_phone_every_bookings_page_fits_and_cancel_names_the_booking(browser, live_server, evening):  # noqa: F811
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        locale="en-GB",
        timezone_id="Europe/Copenhagen",
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        sign_in_as(page, live_server, "member")
        assert page.viewport_size == PHONE
        lyng = Room.objects.get(name="Lyng")
        desk = Desk.objects.order_by("label").first()
        paths = [
            "/rooms/",
            f"/rooms/?date={DAY_AFTER.isoformat()}&start=10:00&end=11:00",
            f"/rooms/{lyng.pk}/?date={DAY_AFTER.isoformat()}",
            "/desks/",
            f"/desks/?date={DAY_AFTER.isoformat()}&start=09:00&end=17:00",
            f"/book/new/?room={lyng.pk}&date={DAY_AFTER.isoformat()}&start=10:00&end=11:00",
            f"/book/new/?desk={desk.pk}",
            "/bookings/",
        ]
        for path in paths:
            page.goto(f"{live_server.url}{path}")
            assert fits(page), (path, overflowing(page))
        _docs_screenshot(page, "my-bookings-phone.png", full_page=True)
        # On the phone the plan keeps touch-sized desks (it scrolls sideways in its frame, the page does not).
        page.goto(f"{live_server.url}/desks/?date={DAY_AFTER.isoformat()}&start=09:00&end=17:00")
        # phones hide scrollbars: a line says the plan scrolls (hidden on wider screens, where it fits)
        expect(page.get_by_text("Swipe sideways to see the whole floor.").first).to_be_visible()
        spot = page.get_by_role("link", name=re.compile(r"^Book desk \S+ \(free\)$")).first
        spot.scroll_into_view_if_needed()
        target = spot.bounding_box()
        assert target["width"] >= 24 and target["height"] >= 24, target
        assert fits(page)
        page.goto(f"{live_server.url}/bookings/")

        row = page.locator("tr[data-booking]").filter(has_text="Investor call")
        cancel = row.get_by_role("link", name="Cancel", exact=True)
        box = cancel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44
        with page.expect_navigation():
            cancel.tap()
        expect(page.get_by_role("heading", name="Cancel Havn?")).to_be_visible()
        assert "10:00–11:00" in page.locator(".confirm__what").inner_text() and "Investor call" in page.content()
        assert fits(page)
        with page.expect_navigation():
            page.get_by_role("link", name="No, keep it").tap()
        assert Booking.objects.get(title="Investor call").status == "confirmed"

        # The installable app: its manifest and icons, as the browser fetches them.
        href = page.locator('link[rel="manifest"]').get_attribute("href")
        manifest = page.request.get(live_server.url + href)
        assert manifest.headers["content-type"] == "application/manifest+json"
        body = manifest.json()
        assert body["start_url"].startswith("/badge/")
        for icon in body["icons"]:
            assert page.request.get(live_server.url + icon["src"]).headers["content-type"] == "image/png"
        page.goto(live_server.url + body["start_url"])
        expect(page.get_by_role("heading", name=re.compile("badge", re.I)).first).to_be_visible()
        assert errors == []
    finally:
        context.close()
