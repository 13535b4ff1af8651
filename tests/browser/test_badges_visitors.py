"""Visitors in a real browser: a member invites a guest; reception checks them in; the host's list follows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from badges.models import Visit
from tests.sign_in import authenticator_for

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _morning(site):
    """10:00 in the site's zone, the clock running: a visit ten minutes ahead is today's (at 23:55 it was not)."""
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=site.tz), tick=True):
        yield


def test_a_member_invites_a_visitor_and_reception_checks_them_in(page, live_server, sign_in, member, staff, password):
    tz = member.site.tz
    start = (timezone.now().astimezone(tz) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=2)

    sign_in(page, live_server, "member", password)
    page.goto(f"{live_server.url}/visitors/")
    page.get_by_label("Visitor's name").fill("Vera Visitor")
    page.get_by_label("Visitor's email").fill("vera@guests.example")
    page.get_by_label("Arrives").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Leaves").fill(end.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Register the visitor").click()
    page.get_by_text("Vera Visitor is registered").wait_for()
    visit = Visit.objects.get()
    assert visit.start == start and visit.end == end
    assert [m.to for m in mail.outbox] == [["vera@guests.example"]]
    assert page.console_errors == []

    page.context.clear_cookies()
    sign_in(page, live_server, "staff", password, authenticator=authenticator_for(staff.user))
    page.goto(f"{live_server.url}/reception/")
    row = page.locator(f"#visit-{visit.pk}")
    row.get_by_role("button", name="Check in").click()
    page.get_by_text("Vera Visitor is checked in").wait_for()
    visit.refresh_from_db()
    assert visit.checked_in_by_id == staff.pk
    assert page.locator(f"#visit-{visit.pk}").get_by_text("Checked in").count() == 1
    assert mail.outbox[-1].to == [member.user.email]
    assert page.console_errors == []
