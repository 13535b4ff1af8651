"""The API docs (/api/v1/docs/) in a real browser: Swagger UI from the project's own static files renders the
operations under the strict CSP (no CDN, no inline script or style), with no console error."""

from __future__ import annotations

import pytest

from tests.browser.test_portal_sign_in import screenshot_path

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_the_operations_under_the_strict_csp(page, live_server, tmp_path):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 20
    page.get_by_text("/api/v1/bookings/", exact=True).first.wait_for()
    assert page.locator(".info .title").inner_text().startswith("Labs operations API")
    page.locator(".opblock-summary").first.click()  # open one operation: its parameters and responses render
    page.locator(".opblock-body .responses-wrapper").first.wait_for()
    assert all(url.startswith(live_server.url) for url in requests), [u for u in requests if live_server.url not in u]
    assert page.console_errors == []
    page.screenshot(path=screenshot_path(tmp_path, "api-docs.png"))
