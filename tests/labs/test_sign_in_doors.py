"""One throttle for every sign-in door: the API token, the portal, the admin's login and second-factor codes.

Guesses at one door count at every other; an address or a (username, address) pair locked at one door is locked
at all of them, even for the right password.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import AuthenticatorFactory
from tests.sign_in import totp_code

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.5"
ELSEWHERE = "203.0.113.77"
TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # many guesses, each one hashed


@pytest.fixture(autouse=True)
def _mid_window():
    with time_machine.travel(datetime(2026, 3, 2, 9, 7, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def admin_staff(staff):
    staff.user.is_staff = True
    staff.user.save()
    return staff


@pytest.fixture
def authenticator(admin_staff):
    return AuthenticatorFactory(user=admin_staff.user)


def api_guess(username, password, ip=ADDRESS, **extra):
    return APIClient().post(TOKEN, {"username": username, "password": password, **extra}, REMOTE_ADDR=ip)


def admin_guess(username, password, ip=ADDRESS, code=""):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(ADMIN_LOGIN, {"username": username, "password": password, "code": code})
    return client, response


def portal_guess(username, password, ip=ADDRESS):
    client = Client(REMOTE_ADDR=ip)
    return client, client.post("/sign-in/", {"username": username, "password": password})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


class TestTheAdminLoginIsThrottled:
    def test_wrong_passwords_at_the_admin_are_counted_and_then_refused(self, admin_staff, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 5
        for _ in range(5):
            client, response = admin_guess("staff", "wrong")
            assert response.status_code == 200 and not signed_in(client)
        client, response = admin_guess("staff", password)
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()
        assert not signed_in(client)

    def test_thirty_wrong_passwords_lock_the_address_at_twenty(self, admin_staff, password):
        statuses = [admin_guess(f"guess{n}", "wrong")[1].status_code for n in range(30)]
        assert statuses == [200] * 20 + [429] * 10
        client, response = admin_guess("staff", password)
        assert response.status_code == 429 and not signed_in(client)


class TestALockedAddressIsLockedAtEveryDoor:
    def test_locked_through_the_api_the_right_password_is_refused_at_the_admin(self, admin_staff, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 3
        for _ in range(3):
            assert api_guess("staff", "wrong").status_code == 401
        client, response = admin_guess("staff", password)
        assert response.status_code == 429
        assert not signed_in(client)
        _, portal = portal_guess("staff", password)
        assert portal.status_code == 429

    def test_locked_at_the_admin_the_right_password_is_refused_by_the_api(self, member, admin_staff, password):
        for n in range(20):
            admin_guess(f"guess{n}", "wrong")
        refused = api_guess("member", password)
        assert refused.status_code == 429
        assert refused.json()["code"] == "throttled"
        _, portal = portal_guess("member", password)
        assert portal.status_code == 429

    def test_locked_at_the_portal_the_admin_refuses_too(self, admin_staff, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_IP = 4
        for n in range(4):
            portal_guess(f"guess{n}", "wrong")
        client, response = admin_guess("staff", password)
        assert response.status_code == 429 and not signed_in(client)

    def test_the_real_user_elsewhere_is_not_locked_out_by_a_flood(self, admin_staff, authenticator, password):
        for n in range(30):
            api_guess("staff" if n % 2 else f"guess{n}", "wrong")
        client, response = admin_guess("staff", password, ip=ELSEWHERE, code=totp_code(authenticator))
        assert response.status_code == 302 and signed_in(client)


class TestCodesGoThroughTheSameThrottle:
    def test_wrong_codes_at_the_admin_lock_the_api_for_that_pair(self, admin_staff, authenticator, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 3
        for _ in range(3):
            client, response = admin_guess("staff", password, code="000000")
            assert response.status_code == 200 and not signed_in(client)
            assert "Wrong or expired code." in response.content.decode()
        refused = api_guess("staff", password, otp=totp_code(authenticator))
        assert refused.status_code == 429

    def test_wrong_codes_at_the_portal_count_at_the_admin(self, admin_staff, authenticator, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 2
        client = Client(REMOTE_ADDR=ADDRESS)
        client.post("/sign-in/", {"username": "staff", "password": password})
        for _ in range(2):
            assert client.post("/sign-in/code/", {"code": "000000"}).status_code == 400
        _, response = admin_guess("staff", password, code=totp_code(authenticator))
        assert response.status_code == 429
