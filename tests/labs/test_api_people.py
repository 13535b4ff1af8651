"""The people API (API.md): staff of the site onboard and manage people through the same services as the admin."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.core import mail

from labs.choices import Role
from labs.models import Person
from tests.factories import CompanyFactory, PersonFactory, SiteFactory
from tests.labs.conftest import ALL_ENDED

pytestmark = pytest.mark.django_db

PEOPLE = "/api/v1/people/"


def _new(**changes) -> dict:
    return {
        "email": "Ny.Person@Acme.Example",
        "first_name": "Ny",
        "last_name": "Person",
        "role": "employee",
        "site": "cph",
        **changes,
    }


@pytest.fixture
def aarhus_person(db):
    return PersonFactory(role=Role.MENTOR, company=None, site=SiteFactory(slug="aar", name="Aarhus"))


class TestWho:
    def test_anonymous_is_401(self, anon_client, member):
        assert anon_client.get(PEOPLE).status_code == 401
        assert anon_client.patch(f"{PEOPLE}{member.pk}/", {"phone": "1"}).status_code == 401

    @pytest.mark.parametrize("persona", ["member_client", "outsider_client", "mentor_client"])
    def test_non_staff_are_403_on_list_create_read_and_change(self, request, persona, colleague, company):
        client = request.getfixturevalue(persona)

        responses = [
            client.get(PEOPLE),
            client.post(PEOPLE, _new(company=company.pk)),
            client.get(f"{PEOPLE}{colleague.pk}/"),
            client.patch(f"{PEOPLE}{colleague.pk}/", {"role": "staff"}),
        ]

        assert [r.status_code for r in responses] == [403, 403, 403, 403]
        assert {r.json()["code"] for r in responses} == {"forbidden"}
        colleague.refresh_from_db()
        assert colleague.role == Role.EMPLOYEE
        assert not Person.objects.filter(user__email__iexact="ny.person@acme.example").exists()

    def test_another_sites_person_is_404_and_never_listed(self, staff_client, aarhus_person, member):
        assert staff_client.get(f"{PEOPLE}{aarhus_person.pk}/").status_code == 404
        response = staff_client.patch(f"{PEOPLE}{aarhus_person.pk}/", {"is_active": False})
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert aarhus_person.pk not in [p["id"] for p in staff_client.get(PEOPLE).json()["results"]]
        aarhus_person.user.refresh_from_db()
        assert aarhus_person.user.is_active


class TestList:
    def test_it_lists_the_sites_people_paginated(self, staff_client, staff, member, colleague, outsider):
        body = staff_client.get(PEOPLE).json()

        assert set(body) == {"count", "next", "previous", "results"}
        assert body["count"] == 4
        row = next(p for p in body["results"] if p["id"] == member.pk)
        assert row["role"] == "employee" and row["company"]["name"] == "Acme" and row["site"]["slug"] == "cph"
        assert row["is_active"] is True and row["membership_ends_on"] is None

    def test_it_filters_by_role_company_and_search(self, staff_client, staff, member, colleague, outsider, company):
        def ids(**params):
            return {p["id"] for p in staff_client.get(PEOPLE, params).json()["results"]}

        assert ids(role="staff") == {staff.pk}
        assert ids(company=company.pk) == {member.pk, colleague.pk}
        assert ids(search="OUTSIDER@example") == {outsider.pk}
        assert ids(search=f"{member.user.first_name} {member.user.last_name}") == {member.pk}

    def test_a_bad_filter_is_400(self, staff_client):
        response = staff_client.get(PEOPLE, {"role": "emperor"})
        assert (response.status_code, response.json()["code"]) == (400, "invalid")

    def test_its_query_count_does_not_grow_with_the_page(
        self, staff_client, staff, site, company, django_assert_num_queries
    ):
        PersonFactory.create_batch(3, site=site, company=company)
        staff_client.get(PEOPLE)  # the session's first look-up of the person, cached from here on
        with django_assert_num_queries(2):  # count, page (people with their user, company and site)
            assert staff_client.get(PEOPLE).json()["count"] == 4
        PersonFactory.create_batch(20, site=site, company=company)
        with django_assert_num_queries(2):
            assert staff_client.get(PEOPLE).json()["count"] == 24


class TestCreate:
    def test_staff_onboard_a_person_who_is_emailed_a_set_password_link(
        self, staff_client, company, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(PEOPLE, _new(company=company.pk))

        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["username"] == "ny.person@acme.example"
        assert (body["role"], body["company"]["id"], body["site"]["slug"]) == ("employee", company.pk, "cph")
        assert "password" not in body
        (message,) = mail.outbox
        assert message.to == ["Ny.Person@acme.example"]
        assert re.search(r"/set-password/[\w-]+/[\w-]+/", message.body)

    def test_with_a_password_the_person_can_sign_in_at_once(self, staff_client, anon_client):
        response = staff_client.post(PEOPLE, _new(role="mentor", password="a sound long passphrase"))

        assert response.status_code == 201, response.json()
        token = anon_client.post(
            "/api/v1/auth/token/", {"username": "ny.person@acme.example", "password": "a sound long passphrase"}
        )
        assert token.status_code == 200
        assert mail.outbox == []

    @pytest.mark.parametrize(
        "changes,field",
        [
            ({"email": "not-an-email"}, "email"),
            ({"role": "emperor"}, "role"),
            ({"site": "nowhere"}, "site"),
            ({"password": "123"}, "password"),
            ({"company": 999_999}, "company"),
            ({"is_staff": True}, "is_staff"),
        ],
    )
    def test_bad_input_is_a_400_field_error(self, staff_client, company, changes, field):
        response = staff_client.post(PEOPLE, _new(**{"company": company.pk, **changes}))

        assert response.status_code == 400
        assert response.json()["code"] == "invalid" and field in response.json()
        assert not Person.objects.filter(user__username="ny.person@acme.example").exists()

    def test_a_company_role_without_a_company_is_a_field_error(self, staff_client):
        response = staff_client.post(PEOPLE, _new(role="employee"))
        assert response.status_code == 400 and "company" in response.json()

    def test_a_company_of_another_site_is_a_field_error(self, staff_client):
        elsewhere = CompanyFactory(site=SiteFactory(slug="aar"))
        response = staff_client.post(PEOPLE, _new(company=elsewhere.pk))
        assert response.status_code == 400 and "company" in response.json()

    def test_an_email_in_use_is_a_field_error(self, staff_client, member):
        response = staff_client.post(PEOPLE, _new(role="mentor", email=member.user.email))
        assert response.status_code == 400 and "email" in response.json()

    def test_staff_onboard_at_their_own_site_only(self, staff_client, aarhus_person):
        response = staff_client.post(PEOPLE, _new(role="mentor", site="aar"))
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")


class TestPatch:
    def test_a_role_change_revokes_the_badge_and_ends_tokens(self, staff_client, member, give_holdings):
        held = give_holdings(member)

        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"role": "mentor", "company": None})

        assert response.status_code == 200, response.json()
        assert (response.json()["role"], response.json()["company"]) == ("mentor", None)
        assert held.live() == {"badge": False, "visit": True, "token": False, "session": False}

    def test_a_role_without_company_leaves_a_company_role_its_company(self, staff_client, member, company):
        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"role": "business_member"})
        assert response.status_code == 200, response.json()
        assert response.json()["company"]["id"] == company.pk

    def test_deactivation_ends_everything(self, staff_client, member, give_holdings):
        held = give_holdings(member)

        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"is_active": False})

        assert response.status_code == 200, response.json()
        assert response.json()["is_active"] is False
        assert held.live() == ALL_ENDED

    def test_a_membership_end_that_has_come_revokes_the_badge(self, staff_client, member, give_holdings):
        held = give_holdings(member)

        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"membership_ends_on": "2000-01-01"})

        assert response.status_code == 200, response.json()
        assert response.json()["membership_ends_on"] == "2000-01-01"
        assert not held.badge_live() and not held.visit_live()

    def test_a_membership_end_can_be_cleared(self, staff_client, member):
        member.membership_ends_on = date(2099, 1, 1)
        member.save()
        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"membership_ends_on": None})
        assert response.status_code == 200 and response.json()["membership_ends_on"] is None

    def test_profile_fields_change_and_end_nothing(self, staff_client, member, give_holdings):
        held = give_holdings(member)

        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"job_title": "CTO", "first_name": "Maja"})

        assert response.status_code == 200
        assert (response.json()["job_title"], response.json()["first_name"]) == ("CTO", "Maja")
        assert held.token_live() and held.badge_live()

    def test_staff_cannot_change_their_own_role(self, staff_client, staff):
        response = staff_client.patch(f"{PEOPLE}{staff.pk}/", {"role": "mentor"})

        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        staff.refresh_from_db()
        assert staff.role == Role.STAFF

    def test_staff_cannot_deactivate_themselves(self, staff_client, staff):
        response = staff_client.patch(f"{PEOPLE}{staff.pk}/", {"is_active": False})
        assert response.status_code == 403

    @pytest.mark.parametrize("body", [{"site": "aar"}, {"username": "x"}, {"email": "x@y.example"}, [1, 2], "x"])
    def test_fields_that_cannot_change_here_are_400(self, staff_client, member, body):
        response = staff_client.patch(f"{PEOPLE}{member.pk}/", body, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid")

    def test_a_refused_patch_changes_nothing(self, staff_client, member):
        response = staff_client.patch(f"{PEOPLE}{member.pk}/", {"phone": "+45 1", "role": "sponsor"})

        assert response.status_code == 400  # a sponsor represents a sponsor, and Acme is a business member
        member.refresh_from_db()
        assert (member.phone, member.role) == ("", Role.EMPLOYEE)


def test_the_schema_documents_the_people_endpoints_and_their_4xx(member_client):
    schema = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    people, person = schema["paths"]["/api/v1/people/"], schema["paths"]["/api/v1/people/{id}/"]
    assert set(people) == {"get", "post"} and set(person) == {"get", "patch"}
    assert {"201", "400", "401", "403"} <= set(people["post"]["responses"])
    assert {"200", "400", "401", "403", "404"} <= set(person["patch"]["responses"])
    assert {"401", "403", "404"} <= set(person["get"]["responses"])
    listed = people["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert listed.endswith("/PaginatedPersonOutputList")


def test_an_account_without_an_email_is_listed_as_the_schema_says(staff_client, staff):
    """The calendar workers' account has no e-mail address (as an erased person has none): the people list must
    still match its published schema (schemathesis against make run found an empty 'email' declared an e-mail)."""
    from jsonschema import Draft202012Validator, FormatChecker

    from calendars.services import sync_person_for

    account = sync_person_for(staff.site)
    schema = staff_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    email = schema["components"]["schemas"]["PersonOutput"]["properties"]["email"]

    listed = {p["id"]: p for p in staff_client.get("/api/v1/people/").json()["results"]}

    assert listed[account.pk]["email"] == ""
    for person in listed.values():
        Draft202012Validator(email, format_checker=FormatChecker()).validate(person["email"])
    with pytest.raises(Exception, match="not a 'email'|is not valid"):
        Draft202012Validator(email, format_checker=FormatChecker()).validate("not an address")
