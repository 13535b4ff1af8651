"""Browser tests: real headless Chromium (the Debian package at /usr/bin/chromium) driven by Playwright's sync API.

Never downloads a browser: Playwright is pointed at the system Chromium. Without it the tests skip, except in CI
(``CI=true``), where a missing browser fails the run. Mark browser tests ``@pytest.mark.browser``; they get a live
server (pytest-django's ``live_server``, on a transactional database) and a fresh browser context per test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio loop in the test thread; Django's ORM refuses to run in a thread with a
# running loop unless told it is safe. It is here: the loop only drives the browser, the ORM calls stay synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def _chromium_path() -> str | None:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    executable = _chromium_path()
    if executable is None:
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium); the tests never download a browser"
        if IN_CI:
            pytest.fail(f"CI run, but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def browser_context_args():
    """Override in a test module to change the viewport, locale, time zone..."""
    return {"viewport": DESKTOP, "locale": "en-GB", "timezone_id": "Europe/Copenhagen"}


@pytest.fixture
def page(browser, live_server, transactional_db, browser_context_args):
    """A page in a fresh browser context (no cookies shared between tests), whose base URL is the live server.

    Console errors (a CSP violation, a failed script) are collected on ``page.console_errors``.
    """
    context = browser.new_context(base_url=live_server.url, **browser_context_args)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def sign_in(page, live_server, username: str, password: str, *, authenticator=None):
    """Sign in through the portal's form, as a person would: the password, then (for an account with an
    ``authenticator``, a django-otp device) the code its app shows. Returns the page."""
    page.goto(f"{live_server.url}/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if authenticator is not None:
        from tests.sign_in import totp_code

        page.get_by_label("Code", exact=True).fill(totp_code(authenticator))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
    return page


@pytest.fixture(name="sign_in")
def sign_in_fixture():
    """The :func:`sign_in` helper as a fixture: ``sign_in(page, live_server, "member", password)``; staff pass
    ``authenticator=`` (``tests.sign_in.authenticator_for(user)``)."""
    return sign_in
