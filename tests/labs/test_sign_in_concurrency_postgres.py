"""Concurrent guesses against PostgreSQL: the throttle reserves before it checks, so no limit is ever passed.

Each thread has its own database connection and waits at a barrier, so all guesses reach the database together.
The authentication backend is slowed down and counts its calls: the checks evaluated are the guesses let through.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from labs import services
from labs.errors import Throttled, Unauthenticated
from labs.models import SignInCounter
from tests.factories import AuthenticatorFactory, PersonFactory
from tests.sign_in import totp_code

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ADDRESS = "198.51.100.23"


class SlowCountingBackend(ModelBackend):
    """ModelBackend that records every password it is asked to check and takes its time doing it."""

    calls: list[str] = []
    lock = threading.Lock()

    def authenticate(self, request, username=None, password=None, **kwargs):
        with self.lock:
            self.calls.append(username)
        time.sleep(0.05)
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.fixture(autouse=True)
def _slow_counting_backend(settings):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.SlowCountingBackend"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    SlowCountingBackend.calls = []


@pytest.fixture(autouse=True)
def _mid_window():
    with time_machine.travel(datetime(2026, 3, 2, 9, 7, tzinfo=UTC), tick=True):
        yield


def race(count: int, guess) -> list[str]:
    """Run ``guess(i)`` in ``count`` threads released at once; the outcomes: signed_in, failed, throttled, an error."""
    barrier = threading.Barrier(count)
    outcomes: list[str | None] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = guess(index)
        except Throttled:
            outcomes[index] = "throttled"
        except Unauthenticated:
            outcomes[index] = "failed"
        except Exception as exc:  # noqa: BLE001 - a crash in a thread is reported as the outcome
            outcomes[index] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a guess hung"
    return outcomes


def counted(scope: str) -> int:
    return sum(SignInCounter.objects.filter(scope=scope).values_list("failures", flat=True))


def test_twenty_concurrent_wrong_passwords_for_one_account_count_exactly_the_limit(member):
    outcomes = race(20, lambda _: services.sign_in(username="member", password="wrong", ip=ADDRESS))

    assert outcomes.count("failed") == 5
    assert outcomes.count("throttled") == 15
    assert len(SlowCountingBackend.calls) == 5  # no more passwords checked than the limit
    assert counted("user_ip") == 5
    assert counted("ip") == 5


def test_forty_concurrent_guesses_at_many_accounts_from_one_address_count_exactly_twenty(db):
    outcomes = race(40, lambda i: services.sign_in(username=f"someone{i}", password="wrong", ip=ADDRESS))

    assert outcomes.count("failed") == 20
    assert outcomes.count("throttled") == 20
    assert len(SlowCountingBackend.calls) == 20
    assert counted("ip") == 20
    assert counted("user_ip") == 20  # the refused pairs gave their slots back


def test_guesses_at_the_api_and_the_admin_at_once_share_one_count(settings):
    staff = PersonFactory(user__username="staff", user__is_staff=True, role="staff", company=None)
    assert staff.user.is_staff

    def guess(i: int) -> str:
        if i % 2:
            response = APIClient().post(
                "/api/v1/auth/token/", {"username": "staff", "password": "wrong"}, REMOTE_ADDR=ADDRESS
            )
            return {401: "failed", 429: "throttled"}.get(response.status_code, str(response.status_code))
        response = Client(REMOTE_ADDR=ADDRESS).post("/admin/login/", {"username": "staff", "password": "wrong"})
        return {200: "failed", 429: "throttled"}.get(response.status_code, str(response.status_code))

    outcomes = race(20, guess)

    assert sorted(set(outcomes)) == ["failed", "throttled"], outcomes
    assert outcomes.count("failed") == 5
    assert len(SlowCountingBackend.calls) == 5
    assert counted("user_ip") == 5


def test_one_right_code_sent_ten_times_at_once_signs_in_once(settings):
    staff = PersonFactory(user__username="staff", role="staff", company=None)
    device = AuthenticatorFactory(user=staff.user)
    code = totp_code(device)

    def guess(_: int) -> str:
        services.sign_in_second_factor(user=staff.user, code=code, ip=ADDRESS)
        return "signed_in"

    outcomes = race(10, guess)

    assert outcomes.count("signed_in") == 1
    assert outcomes.count("signed_in") + outcomes.count("failed") + outcomes.count("throttled") == 10
    assert counted("code_user") <= settings.SIGN_IN_MAX_CODE_FAILURES_PER_USER
