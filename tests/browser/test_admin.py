from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_site", stdout=StringIO())


def test_the_demo_staff_uses_the_admin_under_the_strict_csp(page, live_server, demo):
    """Signs in to the admin as the demo's staff (password and the code `demo_totp` prints), browses the labs
    models; nothing is blocked or missing."""
    code = StringIO()
    call_command("demo_totp", stdout=code)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("demo")
    page.get_by_label("Authenticator code").fill(code.getvalue().splitlines()[0])
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="People").first).to_be_visible()
    for path in [
        "/admin/labs/person/",
        "/admin/labs/person/?q=Jensen",
        "/admin/labs/company/",
        "/admin/labs/site/1/change/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
    assert page.console_errors == []
