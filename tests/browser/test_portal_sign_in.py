import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

# Set BROWSER_SCREENSHOTS=/some/dir to keep the screenshots for a look; otherwise they go to the test's tmp_path.
SCREENSHOTS = os.environ.get("BROWSER_SCREENSHOTS")


def screenshot_path(tmp_path: Path, name: str) -> Path:
    return Path(SCREENSHOTS) / name if SCREENSHOTS else tmp_path / name


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_member_signs_in_and_sees_their_dashboard(
    page, live_server, sign_in, member, colleague, outsider, password, tmp_path
):
    member.user.first_name, member.user.last_name = "Maja", "Jensen"
    member.user.save()
    sign_in(page, live_server, "member", password)

    assert page.url == f"{live_server.url}/"
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Welcome, Maja Jensen"
    expect(page.get_by_text("Acme").first).to_be_visible()
    expect(page.get_by_text(colleague.display_name)).to_be_visible()
    assert page.get_by_text("Globex").count() == 0
    assert page.get_by_text(outsider.display_name).count() == 0
    # htmx loaded from the static file, and nothing broke the CSP (an inline style or script would log an error).
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.console_errors == []
    assert no_horizontal_scroll(page)
    page.screenshot(path=screenshot_path(tmp_path, "portal-dashboard.png"), full_page=True)


def test_the_dashboard_fits_a_phone_and_its_menu_opens(page, live_server, sign_in, member, password, tmp_path):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "member", password)

    assert no_horizontal_scroll(page)
    toggle = page.get_by_role("button", name="Menu")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(toggle).to_be_visible()
    assert not sign_out.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    expect(sign_out).to_be_visible()
    page.screenshot(path=screenshot_path(tmp_path, "portal-dashboard-phone-menu.png"))
    toggle.click()
    page.screenshot(path=screenshot_path(tmp_path, "portal-dashboard-phone.png"), full_page=True)
    assert page.console_errors == []


def test_a_wrong_password_shows_the_error(page, live_server, sign_in, member, tmp_path):
    sign_in(page, live_server, "member", "not-the-password")

    alert = page.get_by_role("alert")
    assert alert.inner_text().strip() == "Wrong username or password."
    assert page.url.startswith(f"{live_server.url}/sign-in/")
    assert page.get_by_label("Username").input_value() == "member"
    assert page.get_by_label("Password").input_value() == ""
    assert page.evaluate("document.activeElement.id") == "id_password"
    page.screenshot(path=screenshot_path(tmp_path, "portal-sign-in-error.png"))


def test_sign_out_returns_to_the_sign_in_page(page, live_server, sign_in, member, password):
    sign_in(page, live_server, "member", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.url == f"{live_server.url}/sign-in/"
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/sign-in/?next=/"


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(page, live_server, sign_in, member, password):
    sign_in(page, live_server, "member", password)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
