"""GET /api/v1/me/badge/, the badges list, POST /api/v1/badges/ and the revoke/suspend/reinstate commands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from badges import codes
from badges.choices import BadgeStatus
from badges.models import Badge
from tests.badges.conftest import MONDAY, check, issue
from tests.factories import PersonFactory, SiteFactory

pytestmark = pytest.mark.django_db


def test_my_badge_shows_the_current_rotating_code(frozen, member_client, member_badge):
    body = member_client.get("/api/v1/me/badge/").json()
    assert {k: body[k] for k in ("id", "kind", "status")} == {
        "id": member_badge.pk,
        "kind": "digital",
        "status": "active",
    }
    assert body["code"] == codes.code_for(member_badge.public_id, bytes(member_badge.secret), codes.step_at(MONDAY))
    assert body["refresh_in_s"] == 30 and "valid_from" in body and "valid_until" in body
    frozen.shift(30)
    assert member_client.get("/api/v1/me/badge/").json()["code"] != body["code"]


def test_the_code_from_my_badge_opens_the_door(frozen, member_client, reader_client, member_badge):
    code = member_client.get("/api/v1/me/badge/").json()["code"]
    assert check(reader_client, "cph-main", code).json()["allow"] is True


def test_the_code_carries_no_personal_data(frozen, member, member_client, member_badge):
    code = member_client.get("/api/v1/me/badge/").json()["code"]
    for personal in (member.user.username, member.user.first_name, member.user.email, str(member.pk)):
        assert personal.lower() not in code


def test_a_suspended_badge_shows_no_code(frozen, staff, member_client, member_badge):
    from badges import services

    services.badge_suspend(actor=staff, badge=member_badge)
    body = member_client.get("/api/v1/me/badge/").json()
    assert body["status"] == "suspended" and body["code"] is None


def test_no_badge_is_a_404(member_client):
    response = member_client.get("/api/v1/me/badge/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_my_badge_needs_a_sign_in(anon_client):
    assert anon_client.get("/api/v1/me/badge/").status_code in (401, 403)


def test_the_outsider_sees_their_own_badge_not_the_members(outsider_client, member_badge, outsider_badge):
    assert outsider_client.get("/api/v1/me/badge/").json()["id"] == outsider_badge.pk
    listed = outsider_client.get("/api/v1/badges/").json()
    assert [b["id"] for b in listed["results"]] == [outsider_badge.pk]
    assert outsider_client.get(f"/api/v1/badges/{member_badge.pk}/").status_code == 404


def test_a_colleague_does_not_see_the_members_badge(colleague_client, member_badge):
    assert colleague_client.get("/api/v1/badges/").json()["count"] == 0
    assert colleague_client.get(f"/api/v1/badges/{member_badge.pk}/").status_code == 404


def test_staff_list_the_badges_of_their_site_with_a_fixed_number_of_queries(
    staff, staff_client, site, django_assert_max_num_queries
):
    for _ in range(15):
        issue(staff, PersonFactory(site=site))
    elsewhere = PersonFactory(site=SiteFactory(slug="aar"))
    from badges import services

    services._new_badge(kind="digital", person=elsewhere)
    with django_assert_max_num_queries(6):
        body = staff_client.get("/api/v1/badges/").json()
    assert body["count"] == 15
    assert "secret" not in body["results"][0] and "card_uid_digest" not in body["results"][0]


def test_staff_issue_a_digital_badge(staff_client, member):
    response = staff_client.post("/api/v1/badges/", {"person": member.pk, "kind": "digital"}, format="json")
    assert response.status_code == 201, response.content
    badge = Badge.objects.get(pk=response.json()["id"])
    assert badge.person_id == member.pk and badge.secret and len(bytes(badge.secret)) == 32


def test_staff_register_a_card_stored_as_a_digest(staff_client, member):
    response = staff_client.post(
        "/api/v1/badges/", {"person": member.pk, "kind": "card", "card_uid": "04:A1:B2:C3"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["card_uid_hint"] == "B2C3"
    badge = Badge.objects.get(pk=response.json()["id"])
    assert badge.card_uid_digest == codes.card_uid_digest("04A1B2C3")
    assert "04A1B2C3" not in str(Badge.objects.filter(pk=badge.pk).values().get())


def test_a_card_registered_twice_is_a_409(staff_client, member, colleague):
    staff_client.post("/api/v1/badges/", {"person": member.pk, "kind": "card", "card_uid": "04A1B2C3"}, format="json")
    response = staff_client.post(
        "/api/v1/badges/", {"person": colleague.pk, "kind": "card", "card_uid": "04-a1-b2-c3"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "card_in_use"


def test_a_second_live_digital_badge_is_a_409(staff_client, member, member_badge):
    response = staff_client.post("/api/v1/badges/", {"person": member.pk, "kind": "digital"}, format="json")
    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "digital"},
        {"person": "x", "kind": "digital"},
        {"person": 10**30, "kind": "digital"},
        {"person": 1, "kind": "hologram"},
        {"person": 1, "kind": "card"},
        {"person": 1, "kind": "card", "card_uid": "not hex"},
        {"person": 1, "kind": "digital", "valid_until": "2030-01-01T00:00:00"},
    ],
)
def test_bad_issue_requests_are_400(staff_client, member, body):
    if body.get("person") == 1:
        body = {**body, "person": member.pk}
    response = staff_client.post("/api/v1/badges/", body, format="json")
    assert response.status_code == 400, response.content


def test_staff_cannot_issue_for_someone_of_another_site(staff_client):
    elsewhere = PersonFactory(site=SiteFactory(slug="aar"))
    response = staff_client.post("/api/v1/badges/", {"person": elsewhere.pk, "kind": "digital"}, format="json")
    assert response.status_code == 400 and "person" in response.json()


@pytest.mark.parametrize("who", ["member_client", "outsider_client", "mentor_client"])
def test_only_staff_issue_badges(request, member, who):
    client = request.getfixturevalue(who)
    response = client.post("/api/v1/badges/", {"person": member.pk, "kind": "digital"}, format="json")
    assert response.status_code == 403
    assert not Badge.objects.exists()


def test_staff_revoke_suspend_and_reinstate(frozen, staff_client, member_badge):
    url = f"/api/v1/badges/{member_badge.pk}"
    assert staff_client.post(f"{url}/suspend/", {"reason": "lost_phone"}, format="json").json()["status"] == "suspended"
    assert staff_client.post(f"{url}/reinstate/").json()["status"] == "active"
    response = staff_client.post(f"{url}/revoke/", {"reason": "lost_phone"}, format="json")
    assert response.json()["status"] == "revoked" and response.json()["status_reason"] == "lost_phone"
    assert staff_client.post(f"{url}/reinstate/").status_code == 409


def test_the_outsider_cannot_revoke_the_members_badge(outsider_client, member_badge):
    for action in ("revoke", "suspend", "reinstate"):
        assert outsider_client.post(f"/api/v1/badges/{member_badge.pk}/{action}/").status_code == 404
    member_badge.refresh_from_db()
    assert member_badge.status == BadgeStatus.ACTIVE


def test_a_member_cannot_revoke_even_their_own_badge(member_client, member_badge):
    assert member_client.post(f"/api/v1/badges/{member_badge.pk}/revoke/").status_code == 403


def test_staff_of_another_site_get_a_404(member_badge):
    from rest_framework.test import APIClient

    other_staff = PersonFactory(role="staff", site=SiteFactory(slug="aar"), company=None)
    client = APIClient()
    client.force_authenticate(other_staff.user)
    assert client.post(f"/api/v1/badges/{member_badge.pk}/revoke/").status_code == 404


def test_an_id_beyond_the_integer_range_is_a_404_not_a_500(staff_client):
    assert staff_client.post(f"/api/v1/badges/{10**25}/revoke/").status_code == 404
    assert staff_client.get(f"/api/v1/badges/{10**25}/").status_code == 404


def test_a_badge_issued_to_someone_whose_membership_ends_stops_then(frozen, staff_client, member):
    from labs import services as labs_services
    from labs.models import Person

    labs_services.person_end_membership(
        actor=Person.objects.get(user__username="staff"), person=member, ends_on=MONDAY.date() + timedelta(days=3)
    )
    body = staff_client.post("/api/v1/badges/", {"person": member.pk, "kind": "digital"}, format="json").json()
    assert body["valid_until"].startswith("2026-03-04T23:00:00")
