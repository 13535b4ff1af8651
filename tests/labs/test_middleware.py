"""Cross-cutting HTTP behaviour: pages in the site's time zone; the API the same whoever asks; idle sessions end."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from tests.factories import PASSWORD, PersonFactory, SiteFactory
from tests.sign_in import signed_in


def test_a_page_shows_the_time_in_the_persons_site_zone(client, member):
    client.force_login(member.user)
    with time_machine.travel(datetime(2026, 11, 29, 20, 23, tzinfo=UTC), tick=False):
        response = client.get("/")

    page = response.content.decode()
    assert "21:23" in page  # Copenhagen is UTC+1 in November
    assert "20:23" not in page


def test_each_person_sees_their_own_sites_zone(client, db):
    tokyo = SiteFactory(slug="tyo", name="Tokyo", timezone="Asia/Tokyo")
    person = PersonFactory(site=tokyo, role="mentor", company=None)
    client.force_login(person.user)
    with time_machine.travel(datetime(2026, 11, 29, 20, 23, tzinfo=UTC), tick=False):
        page = client.get("/").content.decode()

    assert "05:23" in page


def test_the_api_answers_the_same_to_a_session_as_to_a_token(client, member):
    from rest_framework.test import APIClient

    from tests.bookings.factories import BookingFactory, RoomFactory

    BookingFactory(room=RoomFactory(site=member.site), organiser=member, start=datetime(2030, 1, 7, 9, tzinfo=UTC))
    client.force_login(member.user)
    token_client = APIClient()
    token_client.force_authenticate(member.user)

    by_session = client.get("/api/v1/bookings/").json()["results"][0]
    by_token = token_client.get("/api/v1/bookings/").json()["results"][0]

    assert by_session == by_token
    assert datetime.fromisoformat(by_session["start"]) == datetime(2030, 1, 7, 9, tzinfo=UTC)


# --- Idle sessions -------------------------------------------------------------------------------------------------

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def member_session(client, member, clock):
    return signed_in(client, member)


@pytest.fixture
def staff_session(clock, staff, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff.user.set_password(PASSWORD)
    staff.user.save()
    return signed_in(Client(), staff)


class TestIdleSessions:
    def test_a_member_idle_past_the_limit_is_signed_out_and_sent_to_sign_in(self, member_session, clock, settings):
        clock.shift(settings.SESSION_IDLE + timedelta(minutes=1))
        response = member_session.get("/bookings/")
        assert response.status_code == 302
        assert response["Location"] == "/sign-in/?next=%2Fbookings%2F&idle=1"
        assert "_auth_user_id" not in member_session.session
        assert "signed out after a while without activity" in member_session.get(response["Location"]).content.decode()

    def test_activity_keeps_a_session_alive_past_the_limit(self, member_session, clock, settings):
        for _ in range(4):
            clock.shift(settings.SESSION_IDLE - timedelta(minutes=2))
            assert member_session.get("/").status_code == 200

    def test_staff_are_signed_out_after_thirty_idle_minutes(self, staff_session, clock):
        clock.shift(timedelta(minutes=29))
        assert staff_session.get("/reception/").status_code == 200
        clock.shift(timedelta(minutes=31))
        response = staff_session.get("/reception/")
        assert response.status_code == 302 and response["Location"].startswith("/sign-in/?next=%2Freception%2F")
        assert "otp_device_id" not in staff_session.session

    def test_a_member_is_not_held_to_the_staff_limit(self, member_session, clock):
        clock.shift(timedelta(minutes=31))
        assert member_session.get("/").status_code == 200

    def test_the_api_answers_401_json_to_an_idle_session(self, member_session, clock, settings):
        clock.shift(settings.SESSION_IDLE + timedelta(seconds=61))
        response = member_session.get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["code"] == "session_expired"
        assert member_session.get("/api/v1/me/").json()["code"] == "not_authenticated"

    def test_an_api_request_with_its_own_token_is_not_refused_for_an_idle_session(
        self, member_session, member, clock, settings
    ):
        from rest_framework.authtoken.models import Token

        token = Token.objects.create(user=member.user)
        clock.shift(settings.SESSION_IDLE + timedelta(minutes=1))
        response = member_session.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token.key}")
        assert response.status_code == 200
        assert "_auth_user_id" not in member_session.session

    def test_htmx_fragments_send_the_whole_page_to_sign_in(self, member_session, clock, settings):
        clock.shift(settings.SESSION_IDLE + timedelta(minutes=1))
        response = member_session.get("/badge/qr/", HTTP_HX_REQUEST="true")
        assert response.status_code == 204
        assert response["HX-Redirect"].startswith("/sign-in/?next=%2Fbadge%2Fqr%2F")

    def test_the_limit_comes_from_the_environment(self, member_session, clock, settings):
        settings.SESSION_IDLE = timedelta(minutes=10)
        clock.shift(timedelta(minutes=11))
        assert member_session.get("/").status_code == 302

    def test_the_last_request_time_is_written_at_most_once_a_minute(self, member_session, clock):
        member_session.get("/")
        first = member_session.session["last_seen"]
        clock.shift(timedelta(seconds=30))
        member_session.get("/")
        assert member_session.session["last_seen"] == first
        clock.shift(timedelta(seconds=31))
        member_session.get("/")
        assert member_session.session["last_seen"] == first + 61


def test_a_token_request_creates_no_session(member):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member.user).key}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


class TestContentSecurityPolicy:
    """The policy built once (labs.middleware.ContentSecurityPolicyMiddleware) is django-csp's, header for header."""

    @staticmethod
    def _both(request_path="/api/v1/sites/", response=None):
        from csp.middleware import CSPMiddleware
        from django.http import JsonResponse
        from django.test import RequestFactory

        from labs.middleware import ContentSecurityPolicyMiddleware

        headers = []
        for middleware in (CSPMiddleware, ContentSecurityPolicyMiddleware):
            request = RequestFactory().get(request_path)
            produced = response() if response else JsonResponse({"ok": True})
            answered = middleware(lambda r, produced=produced: produced)(request)
            headers.append(
                (answered.get("Content-Security-Policy"), answered.get("Content-Security-Policy-Report-Only"))
            )
        return headers

    def test_the_header_is_django_csps_own_on_the_api_and_on_pages(self, db):
        for path in ("/api/v1/sites/", "/", "/admin/"):
            theirs, ours = self._both(path)
            assert ours == theirs
            assert "default-src 'self'" in ours[0] and "frame-ancestors 'none'" in ours[0]

    def test_a_changed_setting_changes_the_header(self, db, settings):
        self._both()  # built and cached with the project's policy
        settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
            "DIRECTIVES": {"script-src": ["'self'"]},
            "EXCLUDE_URL_PREFIXES": ["/admin/"],
        }
        theirs, ours = self._both("/api/v1/sites/")
        assert ours == theirs
        assert ours[0] == "default-src 'none'" and "script-src 'self'" in ours[1]
        theirs, ours = self._both("/admin/")
        assert ours == theirs == ("default-src 'none'", None)

    def test_a_views_own_change_and_an_exemption_still_count(self, db):
        from django.http import HttpResponse

        def updated():
            response = HttpResponse("x")
            response._csp_update = {"img-src": ["https://maps.example.test"]}
            return response

        def exempt():
            response = HttpResponse("x")
            response._csp_exempt = True
            return response

        theirs, ours = self._both("/", updated)
        assert ours == theirs
        assert "https://maps.example.test" in ours[0]
        assert self._both("/", exempt) == [(None, None), (None, None)]

    def test_a_nonce_asked_for_before_the_response_is_in_the_header(self, db, settings):
        from csp.constants import NONCE
        from django.http import HttpResponse
        from django.test import RequestFactory

        from labs.middleware import ContentSecurityPolicyMiddleware

        settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}
        request = RequestFactory().get("/")

        def view(r):
            return HttpResponse(str(r.csp_nonce))

        response = ContentSecurityPolicyMiddleware(view)(request)
        assert f"'nonce-{response.content.decode()}'" in response["Content-Security-Policy"]
