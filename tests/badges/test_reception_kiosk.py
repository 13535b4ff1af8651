"""Reception on any day with a search, the printable badge, the walk-in kiosk (and who may open it), and the rule
that a visitor who never arrived cannot be checked out, at every entry point."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from badges import selectors, services
from badges.models import Kiosk, Visit
from labs.choices import Role
from tests.badges.conftest import MONDAY
from tests.factories import PersonFactory, SiteFactory
from tests.sign_in import admin_sign_in, authenticator_for, signed_in

pytestmark = pytest.mark.django_db

START = MONDAY + timedelta(hours=2)
RULES = "Wear your badge where it can be seen.\nNo visitors in the labs without their host."


def invite(host, site, name, start, email="v@guests.example"):
    return services.visit_create(
        host=host, site=site, name=name, email=email, start=start, end=start + timedelta(hours=1)
    )


@pytest.fixture
def staff_web(staff):
    return signed_in(Client(), staff)


@pytest.fixture
def kiosk_device(staff, site):
    """A tablet set up as the site's kiosk by staff: only the kiosk cookie, no session."""
    site.house_rules = RULES
    site.save()
    device = signed_in(Client(), staff)
    response = device.post("/reception/kiosks/", {"name": "Front desk"})
    assert response.status_code == 302 and response["Location"] == "/kiosk/"
    assert "_auth_user_id" not in device.session  # the staff member is signed out of the tablet
    return device


def test_reception_shows_any_day_and_finds_visitors_by_name_email_or_host(frozen, staff_web, member, colleague, site):
    invite(member, site, "Today Visitor", START)
    invite(colleague, site, "Ada Lovelace", START + timedelta(days=3), email="ada@engines.example")
    invite(member, site, "Bob Builder", START + timedelta(days=3))
    assert "Ada Lovelace" not in staff_web.get("/reception/").content.decode()
    day = (START + timedelta(days=3)).date().isoformat()
    page = staff_web.get(f"/reception/?day={day}").content.decode()
    assert "Ada Lovelace" in page and "Bob Builder" in page and "Today Visitor" not in page
    assert f'value="{day}"' in page  # the date picker keeps its ISO value
    # the full name: a random CSRF token or CSP nonce on the page may hold "Ada"
    assert "Ada Lovelace" not in staff_web.get(f"/reception/?day={day}&q=builder").content.decode()
    assert "Ada Lovelace" in staff_web.get(f"/reception/?day={day}&q=engines.example").content.decode()
    # a name the member's cannot share or contain (the factories' random names once did: both hosts were found)
    colleague.user.last_name = "Quillfeather"
    colleague.user.save(update_fields=["last_name"])
    host_name = colleague.user.last_name
    by_host = staff_web.get(f"/reception/?day={day}&q={host_name}").content.decode()
    assert "Ada Lovelace" in by_host and "Bob Builder" not in by_host
    assert staff_web.get("/reception/?day=31.12.2026").status_code == 400


def test_the_printable_badge_has_the_visitors_qr_link_and_print_css(frozen, staff_web, member, site, client):
    visit = invite(member, site, "Vera Visitor", START)
    response = staff_web.get(f"/reception/{visit.pk}/badge/")
    page = response.content.decode()
    token = selectors.visitor_badge_token(visit.badges.get())
    assert response.status_code == 200 and "Vera Visitor" in page and "<svg" in page
    assert f"/visitor-badge/{token}/" in page and "data-print" in page and "print-badge" in page
    assert "style=" not in page and "<script>" not in page
    client.force_login(member.user)
    assert client.get(f"/reception/{visit.pk}/badge/").status_code == 403
    other_staff = PersonFactory(role=Role.STAFF, site=SiteFactory(slug="aar"), company=None)
    assert signed_in(Client(), other_staff).get(f"/reception/{visit.pk}/badge/").status_code == 404


def test_the_kiosk_is_closed_to_a_device_nobody_set_up(site, member):
    response = Client().get("/kiosk/")
    assert response.status_code == 403 and "not a kiosk" in response.content.decode()
    forged = Client()
    forged.cookies["labs_kiosk"] = "forged"
    assert forged.get("/kiosk/").status_code == 403
    member_client = Client()
    member_client.force_login(member.user)
    assert member_client.post("/reception/kiosks/").status_code == 403  # only staff set one up
    assert Kiosk.objects.count() == 0


def test_a_walk_in_registers_accepts_the_house_rules_and_the_host_is_emailed(
    kiosk_device, member, site, django_capture_on_commit_callbacks
):
    member.user.first_name, member.user.last_name = "Maja", "Jensen"
    member.user.save()
    page = kiosk_device.get("/kiosk/").content.decode()
    assert "Wear your badge where it can be seen." in page and "accepts_house_rules" in page
    form = {"name": "Walter Walk-in", "email": "walter@guests.example", "host": "maja  jensen"}
    refused = kiosk_device.post("/kiosk/", form)
    assert refused.status_code == 400 and "accept the house rules" in refused.content.decode()
    unknown = kiosk_device.post("/kiosk/", {**form, "host": "Nobody Here", "accepts_house_rules": "on"})
    assert unknown.status_code == 400 and "could not find" in unknown.content.decode()
    assert not Visit.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = kiosk_device.post("/kiosk/", {**form, "accepts_house_rules": "on"})
    assert response.status_code == 200 and "Welcome, Walter Walk-in!" in response.content.decode()
    visit = Visit.objects.get()
    assert visit.walk_in and visit.host == member and visit.checked_in_at is not None
    assert visit.house_rules_accepted_at is not None and visit.end - visit.start == timedelta(hours=4)
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(
        [member.user.email, "walter@guests.example"]
    )  # the host hears; the visitor gets a badge
    assert any("has arrived" in message.subject for message in mail.outbox)


def test_a_kiosk_opens_nothing_else_and_stops_when_switched_off(frozen, kiosk_device, staff, site):
    assert kiosk_device.get("/reception/").status_code == 302  # no session: sign-in
    assert kiosk_device.get("/visitors/").status_code == 302
    kiosk = Kiosk.objects.get()
    frozen.shift(31)  # the next authenticator code (a code signs in once)
    staff_web = signed_in(Client(), staff)
    assert "Front desk" in staff_web.get("/reception/").content.decode()
    assert staff_web.post(f"/reception/kiosks/{kiosk.pk}/revoke/").status_code == 302
    assert kiosk_device.get("/kiosk/").status_code == 403


def test_check_out_of_a_visitor_who_never_arrived_is_refused_in_the_portal_and_the_admin(frozen, staff, member, site):
    visit = invite(member, site, "Nora Noshow", START)
    staff_web = signed_in(Client(), staff)
    page = staff_web.get("/reception/").content.decode()
    assert f"/visitors/{visit.pk}/check-out/" not in page  # the button is not offered before arrival
    refused = staff_web.post(f"/visitors/{visit.pk}/check-out/", {"next": "/reception/"})
    assert refused.status_code == 409 and 'data-error-code="not_arrived"' in refused.content.decode()
    admin = Client()
    frozen.shift(31)  # the next authenticator code (a code signs in once)
    staff.user.is_staff = staff.user.is_superuser = True  # the admin with every permission
    staff.user.save()
    admin_sign_in(admin, staff.user.username, device=authenticator_for(staff.user))
    changelist = reverse("admin:badges_visit_changelist")
    response = admin.post(changelist, {"action": "check_out", "_selected_action": [visit.pk]}, follow=True)
    assert any("[not_arrived]" in str(message) for message in response.context["messages"])
    visit.refresh_from_db()
    assert visit.checked_out_at is None


def test_the_kiosk_stops_a_flood_of_registrations(kiosk_device, member, site, settings):
    settings.KIOSK_WALK_INS_PER_10_MINUTES = 2
    member.user.first_name, member.user.last_name = "Maja", "Jensen"
    member.user.save()
    form = {"email": "x@guests.example", "host": "Maja Jensen", "accepts_house_rules": "on"}
    for number in (1, 2):
        assert kiosk_device.post("/kiosk/", {**form, "name": f"Guest {number}"}).status_code == 200
    refused = kiosk_device.post("/kiosk/", {**form, "name": "Guest 3"})
    assert refused.status_code == 429 and "ask at the front desk" in refused.content.decode()
    assert Visit.objects.filter(walk_in=True).count() == 2
