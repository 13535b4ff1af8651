"""The admin's site (labs/admin_site.py): its login is a door of the one throttle, and staff need a second factor."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.admin_site import LabsAdminSite
from labs.second_factor import ENROLMENT_KEY_SESSION
from tests.factories import AuthenticatorFactory
from tests.sign_in import admin_sign_in, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_staff(staff):
    staff.user.is_staff = True
    staff.user.is_superuser = True
    staff.user.save()
    return staff


@pytest.fixture
def authenticator(admin_staff):
    return AuthenticatorFactory(user=admin_staff.user)


def verified(client) -> bool:
    return "otp_device_id" in client.session


def test_admin_site_is_the_labs_site():
    assert isinstance(admin.site, LabsAdminSite)


def test_the_login_page_asks_for_the_authenticator_code(client):
    html = client.get("/admin/login/").content.decode()
    assert 'name="code"' in html and 'autocomplete="one-time-code"' in html
    assert "Authenticator code" in html


class TestTheLogin:
    def test_the_password_and_the_code_sign_staff_in_verified(self, client, admin_staff, authenticator, password):
        response = admin_sign_in(client, "staff", password, device=authenticator)
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert verified(client)
        assert client.get("/admin/").status_code == 200

    def test_without_the_code_nobody_is_signed_in(self, client, admin_staff, authenticator, password):
        response = admin_sign_in(client, "staff", password)
        assert response.status_code == 200
        assert "needs the code from its authenticator app" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_a_wrong_code_signs_nobody_in(self, client, admin_staff, authenticator, password):
        response = client.post(
            "/admin/login/", {"username": "staff", "password": password, "code": "000000", "next": "/admin/"}
        )
        assert response.status_code == 200
        assert "Wrong or expired code." in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_a_wrong_password_shows_the_admins_usual_error(self, client, admin_staff):
        response = admin_sign_in(client, "staff", "wrong")
        assert "Please enter the correct username and password for a staff account" in response.content.decode()

    def test_members_cannot_sign_in_to_the_admin(self, client, member, password):
        response = admin_sign_in(client, "member", password)
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session

    def test_a_session_that_never_passed_the_code_is_signed_out(self, client, admin_staff, authenticator):
        client.force_login(admin_staff.user)
        response = client.get("/admin/labs/site/")
        assert response.status_code == 302
        assert response["Location"] == "/admin/login/?next=%2Fadmin%2Flabs%2Fsite%2F"
        assert "_auth_user_id" not in client.session

    def test_the_code_is_not_shown_again_in_the_form(self, client, admin_staff, authenticator, password):
        code = totp_code(authenticator)
        response = client.post("/admin/login/", {"username": "staff", "password": "wrong", "code": code})
        assert code not in response.content.decode()


class TestEnrolmentInTheAdmin:
    def test_staff_without_an_authenticator_are_sent_to_set_one_up(self, client, admin_staff, password):
        response = admin_sign_in(client, "staff", password)
        assert response.status_code == 302 and "_auth_user_id" in client.session
        index = client.get("/admin/")
        assert index.status_code == 302
        assert index["Location"] == "/admin/two-factor/?next=%2Fadmin%2F"

    def test_the_page_shows_a_qr_code_and_the_secret_under_the_strict_csp(self, client, admin_staff, password):
        admin_sign_in(client, "staff", password)
        response = client.get("/admin/two-factor/")
        html = response.content.decode()
        assert response.status_code == 200
        assert "<svg" in html and 'class="qr__svg"' in html
        assert "<script>" not in html and " style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]
        secret = re.search(r'class="two-factor__secret">([A-Z2-7 ]+)<', html).group(1)
        assert secret.replace(" ", "")

    def test_confirming_a_code_turns_it_on_and_opens_the_admin(self, client, admin_staff, password):
        admin_sign_in(client, "staff", password)
        client.get("/admin/two-factor/")
        app = TOTPDevice(key=client.session[ENROLMENT_KEY_SESSION])  # what the person's app now holds
        response = client.post("/admin/two-factor/", {"code": totp_code(app), "next": "/admin/"})
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert verified(client)
        assert client.get("/admin/").status_code == 200
        assert TOTPDevice.objects.get(user=admin_staff.user).confirmed

    def test_a_next_that_is_not_a_path_goes_to_the_admin_index(self, client, admin_staff, password):
        admin_sign_in(client, "staff", password)
        client.get("/admin/two-factor/")
        app = TOTPDevice(key=client.session[ENROLMENT_KEY_SESSION])
        response = client.post("/admin/two-factor/", {"code": totp_code(app), "next": "0"})  # once a 500
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert client.get("/admin/two-factor/", {"next": "index"})["Location"] == "/admin/"  # already set up

    def test_a_wrong_code_is_refused(self, client, admin_staff, password):
        admin_sign_in(client, "staff", password)
        client.get("/admin/two-factor/")
        response = client.post("/admin/two-factor/", {"code": "000000"})
        assert response.status_code == 400
        assert "Wrong or expired code." in response.content.decode()
        assert not TOTPDevice.objects.exists()

    def test_an_unverified_staff_can_still_sign_out(self, client, admin_staff, password):
        admin_sign_in(client, "staff", password)
        response = client.post("/admin/logout/")
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session

    def test_the_page_needs_a_staff_sign_in(self, client, member):
        assert client.get("/admin/two-factor/")["Location"].startswith("/admin/login/")
        client.force_login(member.user)
        assert client.get("/admin/two-factor/")["Location"].startswith("/admin/login/")


def test_the_admin_never_shows_a_saved_authenticators_secret(client, admin_staff, authenticator, password):
    admin_sign_in(client, "staff", password, device=authenticator)
    other = AuthenticatorFactory()
    html = client.get(f"/admin/otp_totp/totpdevice/{other.pk}/change/").content.decode()
    assert other.key not in html
    assert client.get(f"/admin/otp_totp/totpdevice/{other.pk}/config/").status_code == 403


def test_the_api_session_of_staff_without_an_authenticator_is_refused(admin_staff, password):
    client = Client()
    admin_sign_in(client, "staff", password)
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["code"] == "second_factor_enrolment_required"
