"""Which real services a test run has, and the rule for tests that need one.

On embedded defaults a test that needs PostgreSQL, Redis or Mosquitto skips with the reason; with ``CI=true`` it
fails instead, so CI can never pass by silently skipping the tests that matter.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() == "true"
REAL_SERVICES = os.environ.get("LABS_REAL_SERVICES", "").lower() == "true"


def _reachable(url: str | None, default_port: int) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def has_postgres() -> bool:
    return settings.USES_POSTGRES


def has_redis() -> bool:
    return _reachable(settings.REDIS_URL, 6379)


def project_mosquitto_url() -> str | None:
    """The project's own Mosquitto (mosquitto.conf: TCP_NODELAY, large queues), when the run has one."""
    url = os.environ.get("MOSQUITTO_TEST_URL") or (None if settings.MQTT_EMBEDDED else settings.MQTT_URL)
    return url if _reachable(url, 1883) else None


def require(service: str, available: bool) -> None:
    if available:
        return
    reason = f"needs {service}; run `.ci/run` or set the service's URL (see docs/operations.md)"
    if IN_CI and REAL_SERVICES:  # .ci/run sets LABS_REAL_SERVICES=true for its pass on the real services
        pytest.fail(f"CI run against real services, but {reason}", pytrace=False)
    pytest.skip(reason)
