"""POST /api/v1/visits/, the visits list, check-in, check-out and DELETE: host or staff; everyone else gets 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from badges.models import Visit
from tests.badges.conftest import MONDAY, check
from tests.badges.factories import code_at
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

START = MONDAY + timedelta(hours=2)


def body(**overrides):
    return {
        "name": "Vera Visitor",
        "email": "vera@guests.example",
        "site": "cph",
        "start": START.isoformat(),
        "end": (START + timedelta(hours=3)).isoformat(),
        **overrides,
    }


@pytest.fixture
def visit(frozen, member_client, site):
    response = member_client.post("/api/v1/visits/", body(), format="json")
    assert response.status_code == 201, response.content
    return Visit.objects.get(pk=response.json()["id"])


def test_a_member_registers_a_visitor(frozen, member, member_client, site):
    response = member_client.post("/api/v1/visits/", body(purpose="Demo of the robot arm"), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["host"]["id"] == member.pk and data["site"] == "cph" and data["state"] == "expected"
    assert data["start"] == "2026-03-02T11:00:00+01:00" and data["end"] == "2026-03-02T14:00:00+01:00"
    (badge,) = data["badges"]
    assert badge["valid_from"].startswith("2026-03-02T09:30:00") and badge["status"] == "active"


def test_the_site_may_be_given_by_id(frozen, member_client, site):
    assert member_client.post("/api/v1/visits/", body(site=site.pk), format="json").status_code == 201


@pytest.mark.parametrize(
    "overrides",
    [
        {"end": None},
        {"end": "2026-03-02T11:00:00"},  # no offset
        {"start": "tomorrow"},
        {"end": (START + timedelta(hours=25)).isoformat()},
        {"end": (START - timedelta(hours=1)).isoformat()},
        {"site": "nowhere"},
        {"site": 10**30},
        {"site": ["cph"]},
        {"email": "not-an-email"},
        {"name": ""},
    ],
)
def test_bad_visits_are_400(frozen, member_client, site, overrides):
    response = member_client.post("/api/v1/visits/", body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert not Visit.objects.exists()


def test_a_visit_without_an_end_is_400(frozen, member_client, site):
    payload = body()
    del payload["end"]
    response = member_client.post("/api/v1/visits/", payload, format="json")
    assert response.status_code == 400
    assert "end" in response.json()


def test_a_visitor_account_cannot_host(frozen, site):
    from rest_framework.test import APIClient

    guest = PersonFactory(role="visitor", site=site, company=None)
    client = APIClient()
    client.force_authenticate(guest.user)
    assert client.post("/api/v1/visits/", body(), format="json").status_code == 403


def test_anonymous_cannot_register(anon_client, site):
    assert anon_client.post("/api/v1/visits/", body(), format="json").status_code in (401, 403)


def test_the_host_and_staff_see_the_visit_and_no_one_else(
    visit, member_client, staff_client, colleague_client, outsider_client, mentor_client
):
    for client in (member_client, staff_client):
        assert client.get(f"/api/v1/visits/{visit.pk}/").status_code == 200
        assert [v["id"] for v in client.get("/api/v1/visits/").json()["results"]] == [visit.pk]
    for client in (colleague_client, outsider_client, mentor_client):
        assert client.get(f"/api/v1/visits/{visit.pk}/").status_code == 404
        assert client.get("/api/v1/visits/").json()["count"] == 0


def test_staff_of_another_site_host_a_visit_here_and_keep_it_in_hand(frozen, site, staff_client):
    """A host may bring a visitor to any of the operator's sites (the portal's form offers them all). Staff of
    another site are hosts too: they see and can cancel the visit they registered (it was saved, then answered 500,
    out of their reach, with its badge active)."""
    from rest_framework.test import APIClient

    from tests.factories import SiteFactory

    elsewhere = SiteFactory(slug="aar", name="Aarhus", timezone="Europe/Copenhagen")
    host = PersonFactory(role="staff", site=elsewhere, company=None)
    client = APIClient()
    client.force_authenticate(host.user)

    response = client.post("/api/v1/visits/", body(), format="json")

    assert response.status_code == 201, response.content
    visit_id = response.json()["id"]
    assert response.json()["site"] == "cph" and response.json()["host"]["id"] == host.pk
    assert [v["id"] for v in client.get("/api/v1/visits/").json()["results"]] == [visit_id]
    assert staff_client.get(f"/api/v1/visits/{visit_id}/").status_code == 200  # and cph's reception sees it
    assert client.delete(f"/api/v1/visits/{visit_id}/").status_code == 204
    assert Visit.objects.get(pk=visit_id).badges.get().status == "revoked"


@pytest.mark.parametrize("who", ["colleague_client", "outsider_client", "mentor_client"])
def test_others_cannot_check_out_cancel_or_check_in_the_visit(request, visit, who):
    client = request.getfixturevalue(who)
    assert client.post(f"/api/v1/visits/{visit.pk}/check-out/").status_code == 404
    assert client.delete(f"/api/v1/visits/{visit.pk}/").status_code == 404
    assert client.post(f"/api/v1/visits/{visit.pk}/check-in/").status_code == 404
    assert client.post(f"/api/v1/visits/{visit.pk}/card/", {"card_uid": "04112233"}, format="json").status_code == 404
    visit.refresh_from_db()
    assert visit.state == "expected"


def test_the_host_checks_the_visitor_out_and_the_badge_stops(frozen, visit, member_client, reader_client):
    badge = visit.badges.get()
    frozen.move_to(START)
    assert check(reader_client, "cph-main", code_at(badge, START)).json()["allow"]
    response = member_client.post(f"/api/v1/visits/{visit.pk}/check-out/")
    assert response.status_code == 200 and response.json()["state"] == "checked_out"
    frozen.shift(30)
    later = START + timedelta(seconds=30)
    assert check(reader_client, "cph-main", code_at(badge, later)).json()["reason"] == "expired"


def test_a_visitor_who_never_arrived_cannot_be_checked_out(visit, member_client, staff_client):
    for client in (member_client, staff_client):
        response = client.post(f"/api/v1/visits/{visit.pk}/check-out/")
        assert response.status_code == 409 and response.json()["code"] == "not_arrived"
    visit.refresh_from_db()
    assert visit.checked_out_at is None


def test_delete_cancels_the_visit_and_revokes_its_badge(frozen, visit, staff_client, reader_client):
    assert staff_client.delete(f"/api/v1/visits/{visit.pk}/").status_code == 204
    visit.refresh_from_db()
    assert visit.cancelled_at is not None  # kept until the retention purge
    frozen.move_to(START)
    assert check(reader_client, "cph-main", code_at(visit.badges.get(), START)).json()["reason"] == "revoked"


def test_reception_checks_in_and_the_host_is_emailed(
    frozen, visit, staff_client, member, django_capture_on_commit_callbacks
):
    frozen.move_to(START - timedelta(minutes=5))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/api/v1/visits/{visit.pk}/check-in/")
    assert response.status_code == 200 and response.json()["state"] == "checked_in"
    assert [m.to for m in mail.outbox] == [[member.user.email]]


def test_the_host_cannot_check_in_at_reception(frozen, visit, member_client):
    assert member_client.post(f"/api/v1/visits/{visit.pk}/check-in/").status_code == 403


def test_reception_hands_out_a_card(frozen, visit, staff_client):
    response = staff_client.post(f"/api/v1/visits/{visit.pk}/card/", {"card_uid": "04:11:22:33"}, format="json")
    assert response.status_code == 201 and response.json()["visit"] == visit.pk


def test_the_visits_list_filters_by_window_and_pins_its_queries(
    frozen, member, member_client, site, django_assert_max_num_queries
):
    from badges import services

    for day in range(12):
        start = START + timedelta(days=day)
        services.visit_create(host=member, site=site, name=f"V{day}", email="v@x.example", start=start,
                              end=start + timedelta(hours=1))  # fmt: skip
    with django_assert_max_num_queries(5):
        response = member_client.get("/api/v1/visits/")
    assert response.json()["count"] == 12
    window = {"start": START.isoformat(), "end": (START + timedelta(days=2)).isoformat()}
    assert member_client.get("/api/v1/visits/", window).json()["count"] == 2
    assert member_client.get("/api/v1/visits/", {"start": "2026-03-02T10:00:00"}).status_code == 400
