"""/api/v1/docs/: Swagger UI served from the project (drf-spectacular-sidecar), fit for the strict CSP."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_swagger_ui_from_our_static_files_with_no_inline_code(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(' src="' in tag for tag in scripts)  # no inline script
    assert "<style" not in html and "style=" not in html
    assert '/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"' in html
    assert all(url.startswith("/") and not url.startswith("//") for url in re.findall(r'(?:src|href)="([^"]+)"', html))
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_its_set_up_script_comes_from_the_same_url(client):
    html = client.get("/api/v1/docs/").content.decode()
    script_url = re.search(r'<script src="(/api/v1/docs/\?[^"]*script[^"]*)"', html).group(1)
    response = client.get(script_url.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode() and "/api/v1/schema/" in response.content.decode()
