"""The portal's second factor (portal/views.py): the code after the password, and setting up an authenticator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.errors import Unauthenticated
from labs.second_factor import ENROLMENT_KEY_SESSION
from tests.factories import AuthenticatorFactory
from tests.sign_in import totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def authenticator(staff):
    return AuthenticatorFactory(user=staff.user)


def password_step(client, username, password, next_url=""):
    query = f"?next={next_url}" if next_url else ""
    return client.post(f"/sign-in/{query}", {"username": username, "password": password})


class TestTheCodeAfterThePassword:
    def test_the_right_password_asks_for_the_code_before_signing_in(self, client, staff, authenticator, password):
        response = password_step(client, "staff", password)
        assert response.status_code == 302 and response["Location"] == "/sign-in/code/"
        assert "_auth_user_id" not in client.session
        page = client.get("/sign-in/code/")
        assert page.status_code == 200
        assert 'autocomplete="one-time-code"' in page.content.decode()

    def test_the_right_code_signs_in_verified_and_follows_next(self, client, staff, authenticator, password):
        response = password_step(client, "staff", password, next_url="/reception/")
        assert response["Location"] == "/sign-in/code/?next=%2Freception%2F"
        response = client.post(response["Location"], {"code": totp_code(authenticator)})
        assert response.status_code == 302 and response["Location"] == "/reception/"
        assert client.session["_auth_user_id"] == str(staff.user.pk)
        assert "otp_device_id" in client.session
        assert client.get("/reception/").status_code == 200

    def test_a_wrong_code_answers_400_and_signs_nobody_in(self, client, staff, authenticator, password):
        password_step(client, "staff", password)
        response = client.post("/sign-in/code/", {"code": "000000"})
        assert response.status_code == 400
        assert "Wrong or expired code." in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_a_malformed_code_is_a_field_error(self, client, staff, authenticator, password):
        password_step(client, "staff", password)
        response = client.post("/sign-in/code/", {"code": "12ab"})
        assert response.status_code == 400
        assert "Enter the 6-digit code" in response.content.decode()

    @pytest.mark.parametrize("code", ["²²²²²²", "١٢٣٤٥٦"])  # digits to str.isdigit that int() refuses or reads
    def test_digits_that_are_not_ascii_are_a_field_error_not_a_500(self, client, staff, authenticator, password, code):
        password_step(client, "staff", password)
        response = client.post("/sign-in/code/", {"code": code}, HTTP_ACCEPT_LANGUAGE="da")
        assert response.status_code == 400
        assert "Indtast den 6-cifrede kode fra din godkendelsesapp." in response.content.decode()

    def test_the_code_page_needs_the_password_first(self, client):
        assert client.get("/sign-in/code/")["Location"] == "/sign-in/"
        assert client.post("/sign-in/code/", {"code": "123456"})["Location"] == "/sign-in/"

    def test_the_password_step_expires_after_five_minutes(self, client, staff, authenticator, password):
        with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False) as clock:
            password_step(client, "staff", password)
            clock.shift(timedelta(minutes=5, seconds=1))
            response = client.post("/sign-in/code/", {"code": totp_code(authenticator)})
        assert response.status_code == 302 and response["Location"] == "/sign-in/"
        assert "_auth_user_id" not in client.session

    def test_too_many_wrong_codes_lock_the_step(self, client, staff, authenticator, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 2
        password_step(client, "staff", password)
        for _ in range(2):
            client.post("/sign-in/code/", {"code": "000000"})
        response = client.post("/sign-in/code/", {"code": totp_code(authenticator)})
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()

    def test_a_member_with_an_authenticator_is_asked_too(self, client, member, password):
        device = AuthenticatorFactory(user=member.user)
        assert password_step(client, "member", password)["Location"] == "/sign-in/code/"
        assert client.post("/sign-in/code/", {"code": totp_code(device)})["Location"] == "/"

    def test_a_member_without_one_is_signed_in_at_once(self, client, member, password):
        assert password_step(client, "member", password)["Location"] == "/"
        assert client.session["_auth_user_id"] == str(member.user.pk)

    def test_a_session_that_skipped_the_code_is_signed_out(self, client, staff, authenticator):
        client.force_login(staff.user)
        response = client.get("/")
        assert response.status_code == 302 and response["Location"] == "/sign-in/?next=%2F"
        assert "_auth_user_id" not in client.session


class TestSettingUpAnAuthenticator:
    def test_staff_without_one_reach_only_the_set_up_page(self, client, staff, password):
        assert password_step(client, "staff", password)["Location"] == "/"
        for path in ["/", "/reception/", "/rooms/", "/badge/"]:
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith("/account/two-factor/?next="), path
        api = client.get("/api/v1/me/")
        assert api.status_code == 403 and api.json()["code"] == "second_factor_enrolment_required"

    def test_the_page_shows_an_inline_svg_qr_of_the_otpauth_uri_and_the_secret(self, client, staff, password):
        password_step(client, "staff", password)
        response = client.get("/account/two-factor/")
        html = response.content.decode()
        assert response.status_code == 200
        assert html.count("<svg") == 1 and 'class="qr__svg"' in html
        svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
        assert "style=" not in svg and "<script" not in html.replace('<script src="', "")
        secret = re.search(r'class="two-factor__secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
        assert len(secret) == 32
        assert "Staff sign in with a password and a code" in html

    def test_the_secret_stays_the_same_until_confirmed(self, client, staff, password):
        password_step(client, "staff", password)
        client.get("/account/two-factor/")
        first = client.session[ENROLMENT_KEY_SESSION]
        client.get("/account/two-factor/")
        assert client.session[ENROLMENT_KEY_SESSION] == first

    def test_a_code_of_superscript_digits_is_refused_not_a_500(self, client, staff, password):
        from labs import services as labs_services

        password_step(client, "staff", password)
        client.get("/account/two-factor/")
        key = client.session[ENROLMENT_KEY_SESSION]
        with pytest.raises(Unauthenticated):  # the service, as the API's enrolment calls it (no form before it)
            labs_services.second_factor_enrol(user=staff.user, key=key, code="²²²²²²", ip="127.0.0.1")

    def test_the_right_code_turns_it_on_and_opens_the_pages(self, client, staff, password):
        password_step(client, "staff", password)
        client.get("/account/two-factor/?next=/reception/")
        app = TOTPDevice(key=client.session[ENROLMENT_KEY_SESSION])
        response = client.post("/account/two-factor/?next=/reception/", {"code": totp_code(app)})
        assert response.status_code == 302 and response["Location"] == "/reception/"
        assert client.get("/reception/").status_code == 200
        assert ENROLMENT_KEY_SESSION not in client.session
        assert "Two-factor authentication is on" in client.get("/account/two-factor/").content.decode()

    def test_a_wrong_code_is_refused_and_creates_nothing(self, client, staff, password):
        password_step(client, "staff", password)
        client.get("/account/two-factor/")
        response = client.post("/account/two-factor/", {"code": "000000"})
        assert response.status_code == 400
        assert "Wrong or expired code." in response.content.decode()
        assert not TOTPDevice.objects.exists()

    def test_the_next_sign_in_asks_for_the_code(self, staff, password):
        client = Client()
        password_step(client, "staff", password)
        client.get("/account/two-factor/")
        key = client.session[ENROLMENT_KEY_SESSION]
        client.post("/account/two-factor/", {"code": totp_code(TOTPDevice(key=key))})
        client.post("/sign-out/")
        assert password_step(client, "staff", password)["Location"] == "/sign-in/code/"

    def test_the_page_needs_a_sign_in(self, client):
        assert client.get("/account/two-factor/")["Location"].startswith("/sign-in/")

    def test_a_member_may_set_one_up_too(self, client, member, password):
        password_step(client, "member", password)
        html = client.get("/account/two-factor/").content.decode()
        assert "<svg" in html and "Staff sign in with a password and a code" not in html
