"""End to end in Chromium: a member connects their Microsoft 365 calendar. The identity platform answers with
``response_mode=form_post``: its page posts the code to the portal, a cross-site POST that carries no session cookie
(SameSite=Lax). The portal keeps the answer in a short-lived encrypted cookie and sends the browser on with a GET,
which does carry the session: the calendar is connected, and the code never stood in a URL."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from calendars.fakes.microsoft import FakeMicrosoft
from calendars.models import PersonalCalendar
from calendars.providers import personal as personal_adapters
from tests.browser.conftest import PHONE
from tests.factories import PersonFactory

pytestmark = pytest.mark.browser

ALICE = "alice@contoso.test"
CLIENT_ID = "5e1c2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
CLIENT_SECRET = "fake-multitenant-secret"  # noqa: S105 - the fake's test credential


@pytest.fixture
def browser_context_args():
    # The fake identity platform serves TLS with its own CA, which this browser does not know.
    return {"viewport": PHONE, "locale": "en-GB", "timezone_id": "Europe/Copenhagen", "ignore_https_errors": True}


@pytest.fixture
def microsoft(settings, live_server, tmp_path, monkeypatch):
    with FakeMicrosoft(state_dir=tmp_path) as fake:
        fake.add_user(ALICE, "Alice Jensen")
        fake.add_multitenant_app(CLIENT_ID, CLIENT_SECRET)
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.MS_OAUTH_CLIENT_ID = CLIENT_ID
        settings.MS_OAUTH_CLIENT_SECRET = CLIENT_SECRET
        settings.PUBLIC_BASE_URL = live_server.url
        monkeypatch.setattr(personal_adapters, "_ms_apps", {})
        yield fake


def test_a_member_connects_outlook_and_the_code_comes_back_in_a_post(
    page, live_server, sign_in, site, company, password, microsoft
):
    PersonFactory(user__username="alice", user__email=ALICE, site=site, company=company)
    sign_in(page, live_server, "alice", password)
    callbacks = []
    page.on("request", lambda request: callbacks.append(request) if "/calendar/callback/" in request.url else None)

    with page.expect_navigation():
        page.goto("/calendar/")
    page.get_by_role("link", name="Connect Microsoft 365 (Outlook)").click()
    page.wait_for_url(f"{live_server.url}/calendar/")
    expect(page.get_by_role("status").filter(has_text=f"Your calendar {ALICE} is connected")).to_be_visible()

    assert [request.method for request in callbacks] == ["POST", "GET"]
    assert "code" in (callbacks[0].post_data or "")
    assert not any("code=" in request.url for request in callbacks)
    assert "labs_calendar_answer" not in {cookie["name"] for cookie in page.context.cookies()}  # used once, gone
    calendar = PersonalCalendar.objects.get(person__user__username="alice")
    assert (calendar.provider, calendar.account, calendar.status) == ("microsoft", ALICE, "connected")
    assert page.console_errors == []
