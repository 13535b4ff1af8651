"""My badge in a real browser: the QR code renders as SVG and refreshes on its own (htmx polling, no inline script
under the strict CSP)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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


def test_the_code_on_screen_is_accepted_until_the_next_one_replaces_it(
    page, live_server, sign_in, member, staff, password, monkeypatch, settings
):
    """The page fetches the next code as a step ends: at the moment the new code appears, a reader still accepts the
    old one (within the grace), and the new one arrived within the grace after the step changed."""
    from django.utils import timezone

    monkeypatch.setattr(codes, "STEP_SECONDS", 4)
    monkeypatch.setattr("portal.views_badges.QR_POLL_SECONDS", 60)  # only the step-end fetch may swap the code
    settings.BADGE_CODE_GRACE_SECONDS = 2
    badge = services.badge_issue(actor=staff, person=member, kind="digital")

    sign_in(page, live_server, "member", password)
    page.goto(f"{live_server.url}/badge/")
    for _ in range(2):
        old = page.locator("#badge-qr .qr__image").get_attribute("data-code")
        page.wait_for_function(
            "code => document.querySelector('#badge-qr .qr__image')?.dataset.code !== code", arg=old, timeout=8_000
        )
        now = timezone.now()
        assert codes.check_mac(bytes(badge.secret), old.split(".")[1], at=now).valid
        assert now.timestamp() % codes.STEP_SECONDS < 2.0  # swapped in within the grace after the step changed
    assert page.console_errors == []


def test_a_phone_that_lost_its_connection_greys_out_a_code_readers_no_longer_take(
    page, live_server, sign_in, member, staff, password, monkeypatch, settings
):
    monkeypatch.setattr(codes, "STEP_SECONDS", 4)
    settings.BADGE_CODE_GRACE_SECONDS = 1
    services.badge_issue(actor=staff, person=member, kind="digital")

    sign_in(page, live_server, "member", password)
    page.goto(f"{live_server.url}/badge/")
    page.locator("#badge-qr svg.qr__svg").wait_for()
    assert not page.locator(".qr__stale").is_visible()
    page.context.set_offline(True)
    page.locator(".qr--stale .qr__stale").wait_for(timeout=8_000)
    expect(page.get_by_text("This code has expired")).to_be_visible()
    page.context.set_offline(False)
    page.locator("#badge-qr:not(.qr--stale) svg.qr__svg").wait_for(timeout=8_000)  # the next fetch brings it back
