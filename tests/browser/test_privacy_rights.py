"""A demo member downloads their data; a new member erases their account and can no longer sign in."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from labs.choices import Role
from labs.models import ErasureLog
from portal.management.commands.demo_site import DEMO_PASSWORD
from tests.factories import PASSWORD, PersonFactory

pytestmark = pytest.mark.browser


def test_a_demo_member_downloads_their_data(page, live_server, sign_in, tmp_path):
    call_command("demo_site", stdout=StringIO())
    sign_in(page, live_server, "member", DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("link", name="My data").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "My data"
    with page.expect_download() as download_info:
        page.locator("#download-my-data").click()
    path = tmp_path / "my-data.json"
    download_info.value.save_as(path)
    body = json.loads(path.read_text())
    account = {row["model"]: row for row in body["sections"]["account"]}
    assert account["auth.User"]["fields"]["username"]["value"] == "member"
    assert body["sections"]["bookings"], "the demo member has bookings"
    others = {"colleague", "outsider", "mentor", "sponsor", "staff"}
    usernames = {
        row["fields"]["username"]["value"]
        for rows in body["sections"].values()
        for row in rows
        if row["model"] == "auth.User"
    }
    assert usernames == {"member"} and not usernames & others
    assert page.console_errors == []


def test_a_new_member_erases_their_account_and_cannot_sign_in(page, live_server, sign_in, site, company):
    person = PersonFactory(user__username="newbie", role=Role.EMPLOYEE, company=company, site=site)
    sign_in(page, live_server, "newbie", PASSWORD)
    page.goto(f"{live_server.url}/account/data/")
    page.locator("#erase-my-account").click()
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_confirm").check()
    with page.expect_navigation():
        page.locator("#erase-confirm").click()
    assert page.url.endswith("/sign-in/")
    assert page.get_by_text("Your account and your personal data are erased.").is_visible()
    assert ErasureLog.objects.filter(person_id=person.pk).exists()

    page.get_by_label("Username").fill("newbie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in/" in page.url
    page.goto(f"{live_server.url}/account/data/")
    assert "/sign-in/" in page.url  # not signed in
