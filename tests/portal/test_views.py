import re
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labs.choices import Role
from tests.factories import PersonFactory
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db

SIGN_IN = "/sign-in/"


def sign_in(client, username, password, **extra):
    return client.post(SIGN_IN, {"username": username, "password": password}, **extra)


class TestSignIn:
    def test_the_page_renders_a_labelled_form(self, client):
        response = client.get(SIGN_IN)
        html = response.content.decode()
        assert response.status_code == 200
        assert '<label for="id_username">Username</label>' in html
        assert '<label for="id_password">Password</label>' in html
        assert 'name="csrfmiddlewaretoken"' in html
        assert 'autocomplete="current-password"' in html

    def test_a_wrong_password_shows_an_error_and_answers_400(self, client, member):
        response = sign_in(client, "member", "not the password")
        assert response.status_code == 400
        assert "Wrong username or password." in response.content.decode()
        assert 'role="alert"' in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_an_unknown_user_gets_the_same_error(self, client, member):
        response = sign_in(client, "nobody", "whatever")
        assert response.status_code == 400
        assert "Wrong username or password." in response.content.decode()

    def test_an_empty_form_answers_400_with_field_errors(self, client):
        response = client.post(SIGN_IN, {"username": "", "password": ""})
        assert response.status_code == 400
        assert 'aria-invalid="true"' in response.content.decode()

    def test_a_good_sign_in_redirects_to_the_dashboard(self, client, member, password):
        response = sign_in(client, "member", password)
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:dashboard")
        assert client.session["_auth_user_id"] == str(member.user.pk)

    def test_it_goes_through_the_throttle(self, client, member, password, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 2
        for _ in range(2):
            assert sign_in(client, "member", "wrong").status_code == 400
        locked = sign_in(client, "member", password)
        assert locked.status_code == 429
        assert "Too many failed sign-ins" in locked.content.decode()
        assert "_auth_user_id" not in client.session

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example/",
            "//evil.example/steal",
            "http://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ],
    )
    def test_it_refuses_an_open_redirect_through_next(self, client, member, password, target):
        response = client.post(f"{SIGN_IN}?next={target}", {"username": "member", "password": password, "next": target})
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:dashboard")

    def test_it_follows_a_local_next(self, client, member, password):
        response = client.post(f"{SIGN_IN}?next=/some/page/", {"username": "member", "password": password})
        assert response["Location"] == "/some/page/"

    def test_a_signed_in_person_is_sent_on_to_the_dashboard(self, client, member):
        client.force_login(member.user)
        response = client.get(SIGN_IN)
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:dashboard")

    @pytest.mark.parametrize("target", ["0", "foo", "portal:dashboard", "２", "http://testserver/x", "//evil.example/"])
    def test_a_next_that_is_not_a_path_of_this_site_goes_to_the_dashboard(self, client, member, target):
        # redirect() took a bare word for a URL pattern's name: "?next=0" was a 500 (NoReverseMatch)
        client.force_login(member.user)
        response = client.get(SIGN_IN, {"next": target})
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")

    def test_an_inactive_account_cannot_sign_in(self, client, member, password):
        member.user.is_active = False
        member.user.save()
        assert sign_in(client, "member", password).status_code == 400


class TestSignOut:
    def test_it_refuses_get(self, client, member):
        client.force_login(member.user)
        response = client.get("/sign-out/")
        assert response.status_code == 405
        assert "_auth_user_id" in client.session

    def test_post_signs_out(self, client, member):
        client.force_login(member.user)
        response = client.post("/sign-out/")
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:sign-in")
        assert "_auth_user_id" not in client.session

    def test_post_needs_the_csrf_token(self, member):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(member.user)
        assert client.post("/sign-out/").status_code == 403
        assert "_auth_user_id" in client.session


class TestDashboard:
    def test_it_requires_sign_in(self, client):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"] == f"{SIGN_IN}?next=/"

    def test_it_shows_the_person_role_company_and_site(self, client, member):
        member.user.first_name, member.user.last_name = "Maja", "Jensen"
        member.user.save()
        client.force_login(member.user)
        html = client.get("/").content.decode()
        assert "Welcome, Maja Jensen" in html
        assert "Employee" in html
        assert "Acme" in html
        assert "Copenhagen" in html

    def test_it_shows_colleagues_but_never_another_companys_people(self, client, member, colleague, outsider):
        client.force_login(member.user)
        html = client.get("/").content.decode()
        assert colleague.display_name in html
        assert "Globex" not in html
        assert outsider.display_name not in html
        assert outsider.user.username not in html

    def test_the_outsider_sees_their_own_company_only(self, client, member, outsider):
        client.force_login(outsider.user)
        html = client.get("/").content.decode()
        assert "Globex" in html
        assert "Acme" not in html
        assert member.display_name not in html

    def test_it_shows_a_card_per_capability(self, client, member):
        client.force_login(member.user)
        html = client.get("/").content.decode()
        for key in ("bookings", "workspace", "badge", "visitors"):
            assert f'id="{key}"' in html

    def test_every_card_links_to_its_area(self, client, member):
        client.force_login(member.user)
        html = client.get("/").content.decode()
        assert f'<a class="card__link" href="{reverse("portal:my-bookings")}">My bookings</a>' in html
        assert "Coming soon" not in html

    def test_visitors_do_not_see_the_visitor_card(self, client, site):
        visitor = PersonFactory(role=Role.VISITOR, company=None, site=site)
        client.force_login(visitor.user)
        html = client.get("/").content.decode()
        assert 'id="visitors"' not in html
        assert 'id="bookings"' in html

    def test_only_django_staff_see_the_admin_link(self, client, member, staff):
        client.force_login(member.user)
        assert "/admin/" not in client.get("/").content.decode()
        staff.user.is_staff = True
        staff.user.save()
        assert "/admin/" in signed_in(Client(), staff).get("/").content.decode()

    def test_an_account_without_a_person_gets_an_explanation(self, client):
        user = get_user_model().objects.create_user("root", password="x-long-password-1")
        client.force_login(user)
        response = client.get("/")
        assert response.status_code == 200
        assert "no person record" in response.content.decode()

    def test_it_is_never_cached(self, client, member):
        client.force_login(member.user)
        assert "no-store" in client.get("/")["Cache-Control"]

    def test_the_dashboard_runs_a_bounded_number_of_queries(
        self, client, member, colleague, site, company, django_assert_max_num_queries
    ):
        for _ in range(15):
            PersonFactory(role=Role.EMPLOYEE, company=company, site=site)
        client.force_login(member.user)
        with django_assert_max_num_queries(11):  # 11: the personalisation consent, before any suggestion is computed
            assert client.get("/").status_code == 200


class TestStrictCsp:
    """The CSP forbids inline scripts and styles, so the pages must carry none."""

    @pytest.mark.parametrize("path", ["/", SIGN_IN])
    def test_pages_have_no_inline_script_or_style(self, client, member, path):
        if path == "/":
            client.force_login(member.user)
        response = client.get(path)
        html = response.content.decode()
        assert response.status_code == 200
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
        assert "<style" not in html
        assert re.search(r"\sstyle=", html) is None
        assert re.search(r"\son[a-z]+=", html) is None

    def test_the_bookings_pages_have_no_inline_script_or_style(self, member, staff, site):
        """The plan, the booking form, the cancel question and the staff editor too."""
        from bookings import services
        from labs.floor_plans import sanitise_svg
        from tests.bookings.factories import DeskFactory, RoomFactory
        from tests.factories import FloorFactory, ZoneFactory
        from tests.sign_in import signed_in

        floor = FloorFactory(site=site, level=1, name="One")
        floor.plan_svg = sanitise_svg('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50"><rect/></svg>')
        floor.save()
        room = RoomFactory(site=site, floor=floor, name="Fjord", capacity=4, plan_x=50, plan_y=50)
        desk = DeskFactory(site=site, floor=floor, zone=ZoneFactory(floor=floor), label="A-1", plan_x=10, plan_y=10)
        tomorrow = timezone.now().astimezone(site.tz).date() + timedelta(days=1)
        start = datetime.combine(tomorrow, time(10), tzinfo=site.tz)
        booking = services.booking_create(actor=member, room=room, start=start, end=start + timedelta(hours=1))
        member_web = Client()
        member_web.force_login(member.user)
        pages = [
            (member_web, "/desks/"),
            (member_web, "/rooms/"),
            (member_web, f"/rooms/{room.pk}/"),
            (member_web, f"/book/new/?room={room.pk}"),
            (member_web, f"/book/new/?desk={desk.pk}"),
            (member_web, f"/bookings/?booked={booking.pk}"),
            (member_web, f"/bookings/{booking.pk}/cancel/"),
            (signed_in(Client(), staff), f"/floors/{floor.pk}/plan/edit/"),
        ]
        for web, path in pages:
            response = web.get(path)
            html = response.content.decode()
            assert response.status_code == 200, path
            assert "<svg" in html or "plan" not in path, path
            assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, path
            assert "<style" not in html and re.search(r"\sstyle=", html) is None, path
            assert re.search(r"\son[a-z]+=", html) is None, path

    def test_the_base_page_loads_htmx_and_the_portal_assets(self, client):
        html = client.get(SIGN_IN).content.decode()
        assert 'src="/static/portal/htmx.min.js"' in html
        assert 'href="/static/portal/portal.css"' in html
        assert '"includeIndicatorStyles": false' in html

    @pytest.mark.parametrize("name", ["portal.css", "portal.js", "htmx.min.js"])
    def test_the_static_files_are_served(self, client, name):
        response = client.get(f"/static/portal/{name}")
        assert response.status_code == 200


def test_favicon_ico_points_at_the_portal_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/portal/favicon.svg"
    assert client.get(response["Location"]).status_code == 200


def test_the_dashboard_clock_is_the_sites_local_time_and_says_whose(client, member):
    from datetime import UTC, datetime

    import time_machine

    client.force_login(member.user)
    with time_machine.travel(datetime(2026, 11, 29, 20, 23, tzinfo=UTC), tick=False):
        page = client.get("/").content.decode()
    assert "Sunday 29 November, 21:23</time> Copenhagen time" in page
    assert 'datetime="2026-11-29T21:23:00+01:00"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/operations/", "/reception/", "/analytics/", "/calendars/"])
def test_a_staff_page_refuses_a_member_with_a_portal_page_that_says_why_and_leads_back(client, member, path):
    client.force_login(member.user)
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="da")

    assert response.status_code == 403
    page = response.content.decode()
    assert "<nav" in page and 'href="/"' in page  # the portal's navigation and a way back, not one bare line
    assert "Kun " in page and "personale kan se" in page and "Ikke for dig" in page
