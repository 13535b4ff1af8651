"""Two-factor authentication in a real browser: staff set up an authenticator, then sign in with its codes."""

from __future__ import annotations

import os
from base64 import b32decode
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.sign_in import totp_code

pytestmark = pytest.mark.browser


def test_staff_set_up_an_authenticator_then_sign_in_with_its_code(
    page, live_server, sign_in, staff, password, tmp_path
):
    sign_in(page, live_server, "staff", password)
    assert page.url.startswith(f"{live_server.url}/account/two-factor/")
    qr = page.locator(".two-factor__qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] > 100 and abs(box["width"] - box["height"]) < 2  # a square QR code, big enough to scan
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)  # set it to keep the screenshot for a look
    page.screenshot(path=shots / "two-factor-enrol.png", full_page=True)

    # The person types the secret shown into their app (instead of scanning), and enters the code it then shows.
    secret = page.locator(".two-factor__secret").inner_text().replace(" ", "")
    app = TOTPDevice(key=b32decode(secret).hex())
    page.get_by_label("Code", exact=True).fill(totp_code(app))
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.url == f"{live_server.url}/"
    expect(page.get_by_text("Two-factor authentication is on")).to_be_visible()
    expect(page.get_by_role("link", name="Reception")).to_be_visible()
    assert page.console_errors == []

    # Next time: the password, then the code (the next one: each code signs in once).
    page.context.clear_cookies()
    with time_machine.travel(datetime.now(tz=UTC).timestamp() + 30, tick=True):
        page.goto(f"{live_server.url}/sign-in/")
        page.get_by_label("Username").fill("staff")
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
        page.get_by_label("Code", exact=True).fill(totp_code(app))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
    assert page.url == f"{live_server.url}/"
    assert page.console_errors == []
