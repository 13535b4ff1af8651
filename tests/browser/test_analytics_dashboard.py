"""End to end in Chromium: demo staff open the analytics dashboard on the demo site's 12 weeks of history."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from portal.management.commands.demo_site import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_history(settings, transactional_db):
    settings.ANALYTICS_DEMO_HISTORY = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_site", stdout=StringIO())


def test_staff_see_the_heatmap_and_a_recommendation_with_its_evidence(page, live_server, sign_in, demo_history):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    sign_in(page, live_server, "staff", DEMO_PASSWORD, authenticator=TOTPDevice.objects.get(user__username="staff"))

    with page.expect_navigation():
        page.get_by_role("link", name="Analytics").first.click()

    expect(page.get_by_role("heading", name="Room analytics")).to_be_visible()
    heatmap = page.get_by_role("img", name="Room utilisation by weekday and hour")
    expect(heatmap).to_be_visible()
    assert page.locator(".heatmap__cell").count() >= 5 * 10
    card = page.locator(".rec-card").first
    expect(card).to_be_visible()
    card.get_by_text("Evidence").click()
    assert card.locator("dl dt").count() >= 3
    expect(card.locator("dl")).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    assert page.console_errors == []
    if os.environ.get("BROWSER_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BROWSER_SCREENSHOTS']}/analytics-dashboard.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page itself never scrolls sideways
    for chart in ("heatmap", "bars", "trend"):  # each chart keeps a readable size and scrolls in its own box
        width = page.locator(f".chart--{chart}").evaluate("svg => svg.getBoundingClientRect().width")
        assert width >= 500, (chart, width)
    if os.environ.get("BROWSER_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BROWSER_SCREENSHOTS']}/analytics-dashboard-phone.png", full_page=True)


def test_a_member_cannot_open_the_dashboard(page, live_server, sign_in, demo_history):
    sign_in(page, live_server, "member", DEMO_PASSWORD)

    assert page.get_by_role("link", name="Analytics").count() == 0
    response = page.goto(f"{live_server.url}/analytics/")
    assert response.status == 403
