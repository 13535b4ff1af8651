"""My badge in a real browser: the QR code renders as SVG and refreshes on its own (htmx polling, no inline script
under the strict CSP)."""

from __future__ import annotations

import pytest

from badges import codes, services

pytestmark = pytest.mark.browser


def test_my_badge_qr_refreshes_without_a_reload(page, live_server, sign_in, member, staff, password, monkeypatch):
    # Shorter steps and polls, so the test sees a new code within seconds (the page logic is the same at 30 s/5 s).
    monkeypatch.setattr(codes, "STEP_SECONDS", 2)
    monkeypatch.setattr("portal.views_badges.QR_POLL_SECONDS", 1)
    badge = services.badge_issue(actor=staff, person=member, kind="digital")

    sign_in(page, live_server, "member", password)
    page.goto(f"{live_server.url}/badge/")
    image = page.locator("#badge-qr .qr__image")
    image.locator("svg.qr__svg").wait_for()
    first = image.get_attribute("data-code")
    assert first.startswith(badge.public_id + ".")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    page.wait_for_function(
        "code => { const el = document.querySelector('#badge-qr .qr__image'); return el && el.dataset.code !== code }",
        arg=first,
        timeout=8_000,
    )
    second = page.locator("#badge-qr .qr__image").get_attribute("data-code")
    assert second != first and second.startswith(badge.public_id + ".")
    assert page.locator("#badge-qr svg.qr__svg").count() == 1
    assert navigations == []  # swapped in place, not reloaded
    assert page.console_errors == []


def test_without_a_badge_the_page_says_to_ask_reception(page, live_server, sign_in, member, password):
    sign_in(page, live_server, "member", password)
    page.goto(f"{live_server.url}/badge/")
    page.get_by_text("You have no badge yet").wait_for()
    assert page.console_errors == []
