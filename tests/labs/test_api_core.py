import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from labs.choices import Role
from labs.models import Person, SignInCounter
from tests.factories import AuthenticatorFactory
from tests.sign_in import totp_code

pytestmark = pytest.mark.django_db


class TestAuthToken:
    def test_it_returns_a_token_for_good_credentials(self, anon_client, member, password):
        response = anon_client.post("/api/v1/auth/token/", {"username": "member", "password": password})
        assert response.status_code == 200
        token = response.json()["token"]
        anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert anon_client.get("/api/v1/me/").json()["username"] == "member"

    def test_it_refuses_wrong_credentials_with_json(self, anon_client, member):
        response = anon_client.post("/api/v1/auth/token/", {"username": "member", "password": "nope"})
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"

    def test_it_refuses_a_missing_field_with_a_field_error(self, anon_client):
        response = anon_client.post("/api/v1/auth/token/", {"username": "member"})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "password" in response.json()

    def test_a_flood_from_one_ip_does_not_lock_the_real_user_out_elsewhere(
        self, anon_client, member, password, settings
    ):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 3
        for _ in range(3):
            anon_client.post("/api/v1/auth/token/", {"username": "member", "password": "x"}, REMOTE_ADDR="10.0.0.66")
        locked = anon_client.post(
            "/api/v1/auth/token/", {"username": "member", "password": password}, REMOTE_ADDR="10.0.0.66"
        )
        assert locked.status_code == 429
        assert locked.json()["code"] == "throttled"
        elsewhere = anon_client.post(
            "/api/v1/auth/token/", {"username": "member", "password": password}, REMOTE_ADDR="10.0.0.7"
        )
        assert elsewhere.status_code == 200

    def test_an_ip_guessing_many_usernames_is_locked(self, anon_client, member, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_IP = 4
        for n in range(4):
            anon_client.post("/api/v1/auth/token/", {"username": f"u{n}", "password": "x"}, REMOTE_ADDR="10.0.0.9")
        response = anon_client.post(
            "/api/v1/auth/token/", {"username": "member", "password": password}, REMOTE_ADDR="10.0.0.9"
        )
        assert response.status_code == 429


class TestAuthTokenWithASecondFactor:
    def test_an_account_with_an_authenticator_must_send_its_code(self, anon_client, staff, password):
        AuthenticatorFactory(user=staff.user)
        response = anon_client.post("/api/v1/auth/token/", {"username": "staff", "password": password})
        assert response.status_code == 401
        assert response.json()["code"] == "otp_required"

    def test_a_wrong_code_is_refused_and_counted(self, anon_client, staff, password):
        AuthenticatorFactory(user=staff.user)
        response = anon_client.post("/api/v1/auth/token/", {"username": "staff", "password": password, "otp": "000000"})
        assert response.status_code == 401
        assert response.json()["code"] == "otp_invalid"
        assert SignInCounter.objects.filter(scope="code_user", failures=1).exists()

    def test_the_right_code_gets_a_token(self, anon_client, staff, password):
        device = AuthenticatorFactory(user=staff.user)
        response = anon_client.post(
            "/api/v1/auth/token/", {"username": "staff", "password": password, "otp": totp_code(device)}
        )
        assert response.status_code == 200
        anon_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        assert anon_client.get("/api/v1/me/").json()["username"] == "staff"

    def test_staff_without_an_authenticator_are_told_to_set_one_up(self, anon_client, staff, password):
        response = anon_client.post("/api/v1/auth/token/", {"username": "staff", "password": password})
        assert response.status_code == 403
        assert response.json()["code"] == "second_factor_enrolment_required"
        assert not Token.objects.filter(user=staff.user).exists()

    def test_a_member_without_one_needs_no_code(self, anon_client, member, password):
        response = anon_client.post("/api/v1/auth/token/", {"username": "member", "password": password, "otp": ""})
        assert response.status_code == 200

    def test_an_overlong_code_is_a_field_error(self, anon_client, member, password):
        response = anon_client.post(
            "/api/v1/auth/token/", {"username": "member", "password": password, "otp": "1" * 17}
        )
        assert response.status_code == 400
        assert "otp" in response.json()


class TestMe:
    def test_it_needs_sign_in(self, anon_client):
        response = anon_client.get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"

    def test_it_shows_person_role_company_site(self, member_client, member):
        body = member_client.get("/api/v1/me/").json()
        assert body["role"] == Role.EMPLOYEE
        assert body["company"]["name"] == "Acme"
        assert body["site"]["slug"] == "cph"
        assert member_client.get("/api/v1/me/")["Cache-Control"] == "no-store, private"

    def test_a_member_can_change_their_profile(self, member_client, member):
        response = member_client.patch("/api/v1/me/", {"phone": "+45 12 34 56 78"})
        assert response.status_code == 200
        member.refresh_from_db()
        assert member.phone == "+45 12 34 56 78"

    @pytest.mark.parametrize("field,value", [("role", "staff"), ("company", 999), ("site", 1)])
    def test_a_member_cannot_change_their_own_role_or_company(self, member_client, member, field, value):
        response = member_client.patch("/api/v1/me/", {field: value, "phone": "1"})
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        member.refresh_from_db()
        assert member.role == Role.EMPLOYEE and member.company.name == "Acme" and member.phone == ""

    def test_the_outsider_sees_only_themself(self, outsider_client, member):
        assert outsider_client.get("/api/v1/me/").json()["username"] == "outsider"

    def test_a_user_without_person_is_refused(self, anon_client, django_user_model):
        user = django_user_model.objects.create_user("bare", password="pw-long-enough-1")
        anon_client.force_authenticate(user)
        assert anon_client.get("/api/v1/me/").status_code == 403
        assert not Person.objects.filter(user=user).exists()


class TestSites:
    def test_it_lists_sites_paginated(self, member_client, site):
        body = member_client.get("/api/v1/sites/").json()
        assert body["count"] == 1
        assert body["results"][0] == {
            "id": site.pk,
            "slug": "cph",
            "name": "Copenhagen",
            "timezone": "Europe/Copenhagen",
            "address": "",
        }

    def test_the_outsider_sees_the_same_public_sites(self, outsider_client, site):
        assert outsider_client.get("/api/v1/sites/").json()["count"] == 1

    def test_anonymous_is_refused(self, anon_client):
        assert anon_client.get("/api/v1/sites/").status_code == 401

    def test_unknown_site_is_json_404(self, member_client):
        response = member_client.get("/api/v1/sites/nowhere/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


class TestErrors:
    def test_an_unknown_api_path_is_json_404(self, member_client):
        response = member_client.get("/api/v1/no-such-thing/")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found.", "code": "not_found"}

    def test_malformed_json_is_400_not_500(self, member_client):
        response = member_client.generic("PATCH", "/api/v1/me/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"

    def test_a_json_list_body_is_400(self, member_client):
        response = member_client.patch("/api/v1/me/", [1, 2], format="json")
        assert response.status_code == 400


class TestHealthAndSchema:
    def test_health_reports_each_check(self, anon_client):
        response = anon_client.get("/api/v1/health/")
        body = response.json()
        assert set(body["checks"]) == {"database", "broker", "mqtt"}
        assert body["checks"]["database"]["status"] == "ok"
        assert response.status_code == (200 if body["status"] == "ok" else 503)

    def test_schema_is_openapi_3(self, anon_client, member_client):
        response = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.")
        assert "/api/v1/me/" in response.json()["paths"]

    def test_privacy_register_is_staff_only(self, member_client, outsider_client, staff_client):
        assert member_client.get(reverse("labs-api:privacy-register")).status_code == 403
        assert outsider_client.get(reverse("labs-api:privacy-register")).status_code == 403
        body = staff_client.get(reverse("labs-api:privacy-register")).json()
        assert body["count"] == len(body["results"]) > 0


def test_the_schema_is_valid_openapi_3(member_client):
    from openapi_spec_validator import validate

    response = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    validate(response.json())  # raises on any violation of the OpenAPI 3 specification
