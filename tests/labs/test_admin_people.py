"""The admin changes people through the person services: a role change or a deactivation there ends what it ends
from the API (badges, hosted visits, tokens, sessions), and a refusal is a form error, never a 500."""

from __future__ import annotations

import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from labs.admin_forms import NO_ACTOR
from labs.choices import Role
from labs.models import Person
from tests.factories import SiteFactory
from tests.labs.conftest import ALL_ENDED, ALL_LIVE
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db

User = get_user_model()
CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")


def _url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def _person_form(person, **changes) -> dict:
    """The Person change form as the admin posts it, with ``changes`` applied (booleans: ticked or not)."""
    values = {
        "role": person.role,
        "company": person.company_id or "",
        "is_active": person.user.is_active,
        "membership_ends_on": person.membership_ends_on or "",
        "phone": person.phone,
        "job_title": person.job_title,
        **changes,
    }
    return _with_checkboxes(values)


def _user_form(user, **changes) -> dict:
    """Django's user change form as the admin posts it (dates in the staff's zone), with ``changes`` applied."""
    joined = timezone.localtime(user.date_joined, CPH)
    values = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        **changes,
    }
    return _with_checkboxes(values)


def _with_checkboxes(values: dict) -> dict:
    return {k: ("on" if v is True else v) for k, v in values.items() if v is not False and v is not None}


def _errors(response) -> dict:
    form = response.context["adminform"].form
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


class TestPersonForm:
    def test_a_role_change_revokes_the_badge_and_ends_tokens_and_sessions(
        self, admin_client_staff, member, give_holdings
    ):
        held = give_holdings(member)

        response = admin_client_staff.post(
            _url(Person, "change", member.pk), _person_form(member, role=Role.MENTOR, company="")
        )

        assert response.status_code == 302, _errors(response)
        member.refresh_from_db()
        assert (member.role, member.company) == (Role.MENTOR, None)
        assert held.live() == {"badge": False, "visit": True, "token": False, "session": False}

    def test_switching_the_account_off_ends_everything(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)

        response = admin_client_staff.post(_url(Person, "change", member.pk), _person_form(member, is_active=False))

        assert response.status_code == 302, _errors(response)
        assert held.live() == ALL_ENDED
        member.user.refresh_from_db()
        assert not member.user.is_active

    def test_a_membership_end_that_has_come_revokes_the_badge(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)
        today = timezone.localdate(timezone=CPH)

        response = admin_client_staff.post(
            _url(Person, "change", member.pk), _person_form(member, membership_ends_on=today.isoformat())
        )

        assert response.status_code == 302, _errors(response)
        assert held.live() == {"badge": False, "visit": False, "token": True, "session": True}

    def test_a_profile_edit_ends_nothing(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)

        response = admin_client_staff.post(_url(Person, "change", member.pk), _person_form(member, phone="+45 1"))

        assert response.status_code == 302, _errors(response)
        member.refresh_from_db()
        assert member.phone == "+45 1"
        assert held.live() == ALL_LIVE

    def test_a_refusal_is_a_form_error_and_changes_nothing(self, admin_client_staff, staff):
        response = admin_client_staff.post(
            _url(Person, "change", staff.pk), _person_form(staff, role=Role.MENTOR, phone="+45 9")
        )

        assert response.status_code == 200
        assert _errors(response) == {"__all__": ["Staff cannot change their own role or company."]}
        staff.refresh_from_db()
        assert (staff.role, staff.phone) == (Role.STAFF, "")

    def test_a_role_that_needs_a_company_is_a_field_error(self, admin_client_staff, mentor):
        response = admin_client_staff.post(_url(Person, "change", mentor.pk), _person_form(mentor, role=Role.EMPLOYEE))

        assert response.status_code == 200
        assert _errors(response) == {"company": ["This role belongs to a company."]}

    def test_staff_of_another_site_are_refused_on_the_form(self, client, member):
        aarhus = SiteFactory(slug="aar")
        aarhus_staff = Person.objects.create(
            user=User.objects.create_superuser("aar-staff", "a@x.example", "a-long-password-1"),
            role=Role.STAFF,
            site=aarhus,
        )
        signed_in(client, aarhus_staff, "a-long-password-1")

        response = client.post(_url(Person, "change", member.pk), _person_form(member, is_active=False))

        assert _errors(response) == {"__all__": ["No such person at your site."]}
        member.user.refresh_from_db()
        assert member.user.is_active


class TestPersonActions:
    def test_the_deactivate_action_ends_everything(self, admin_client_staff, member, colleague, give_holdings):
        held = give_holdings(member)

        response = admin_client_staff.post(
            _url(Person, "changelist"), {"action": "deactivate", "_selected_action": [member.pk, colleague.pk]}
        )

        assert response.status_code == 302
        assert held.live() == ALL_ENDED
        assert not User.objects.filter(pk__in=[member.user_id, colleague.user_id], is_active=True).exists()

    def test_one_refusal_is_a_message_and_the_others_go_on(self, admin_client_staff, staff, member):
        response = admin_client_staff.post(
            _url(Person, "changelist"), {"action": "deactivate", "_selected_action": [staff.pk, member.pk]}, follow=True
        )

        messages = [str(m) for m in response.context["messages"]]
        assert any("cannot deactivate their own account" in m for m in messages)
        member.user.refresh_from_db()
        staff.user.refresh_from_db()
        assert (member.user.is_active, staff.user.is_active) == (False, True)

    def test_the_reactivate_action(self, admin_client_staff, member):
        member.user.is_active = False
        member.user.save()

        admin_client_staff.post(_url(Person, "changelist"), {"action": "reactivate", "_selected_action": [member.pk]})

        member.user.refresh_from_db()
        assert member.user.is_active

    def test_people_are_not_deleted_here(self, admin_client_staff, member):
        assert admin_client_staff.get(_url(Person, "delete", member.pk)).status_code == 403
        actions = admin_client_staff.get(_url(Person, "changelist")).context["action_form"].fields["action"].choices
        assert [name for name, _label in actions] == ["", "deactivate", "reactivate", "erase", "marketing_list"]


class TestUserAdmin:
    def test_switching_active_off_ends_everything(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)

        response = admin_client_staff.post(
            _url(User, "change", member.user_id), _user_form(member.user, is_active=False)
        )

        assert response.status_code == 302, _errors(response)
        assert held.live() == ALL_ENDED
        member.user.refresh_from_db()
        assert not member.user.is_active

    def test_the_other_fields_still_save(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)

        response = admin_client_staff.post(
            _url(User, "change", member.user_id), _user_form(member.user, last_name="Nyt")
        )

        assert response.status_code == 302, _errors(response)
        member.user.refresh_from_db()
        assert member.user.last_name == "Nyt"
        assert held.live() == ALL_LIVE

    def test_switching_active_on_reactivates(self, admin_client_staff, member):
        member.user.is_active = False
        member.user.save()

        response = admin_client_staff.post(
            _url(User, "change", member.user_id), _user_form(member.user, is_active=True)
        )

        assert response.status_code == 302, _errors(response)
        member.user.refresh_from_db()
        assert member.user.is_active

    def test_deactivating_yourself_is_a_form_error(self, admin_client_staff, staff):
        response = admin_client_staff.post(_url(User, "change", staff.user_id), _user_form(staff.user, is_active=False))

        assert _errors(response) == {"is_active": ["Staff cannot deactivate their own account."]}
        staff.user.refresh_from_db()
        assert staff.user.is_active

    def test_the_deactivate_action_ends_everything(self, admin_client_staff, member, give_holdings):
        held = give_holdings(member)

        admin_client_staff.post(
            _url(User, "changelist"), {"action": "deactivate", "_selected_action": [member.user_id]}
        )

        assert held.live() == ALL_ENDED


class TestASuperuserWithoutAPerson:
    @pytest.fixture
    def root_client(self, client):
        signed_in(
            client,
            User.objects.create_superuser("root", "root@example.test", "a-long-root-password"),
            "a-long-root-password",
        )
        return client

    def test_is_told_to_get_a_person_instead_of_changing_raw(self, root_client, member):
        response = root_client.post(
            _url(Person, "change", member.pk), _person_form(member, role=Role.MENTOR, company="")
        )

        assert response.status_code == 200
        assert _errors(response) == {"__all__": [NO_ACTOR]}
        member.refresh_from_db()
        assert member.role == Role.EMPLOYEE

    def test_in_the_user_admin_too(self, root_client, member):
        response = root_client.post(_url(User, "change", member.user_id), _user_form(member.user, is_active=False))

        assert _errors(response) == {"is_active": [NO_ACTOR]}
        member.user.refresh_from_db()
        assert member.user.is_active

    def test_gives_their_account_a_staff_person_and_then_acts(self, root_client, site, member):
        root = User.objects.get(username="root")
        added = root_client.post(_url(Person, "add"), {"user": root.pk, "role": Role.STAFF, "site": site.pk})
        assert added.status_code == 302, _errors(added)
        assert Person.objects.get(user=root).role == Role.STAFF

        response = root_client.post(_url(Person, "change", member.pk), _person_form(member, is_active=False))

        assert response.status_code == 302, _errors(response)
        member.user.refresh_from_db()
        assert not member.user.is_active


@pytest.mark.parametrize("object_id", ["²", "9" * 5000])
def test_a_person_id_that_is_not_a_plain_number_is_not_found_not_a_500(admin_client_staff, object_id):
    response = admin_client_staff.get(f"/admin/labs/person/{object_id}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"  # Django's "doesn't exist" redirect
