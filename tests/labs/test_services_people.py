"""The person services: what each change ends, who may make it, onboarding and choosing a password."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.authtoken.models import Token

from labs import services
from labs.choices import Role
from labs.errors import Forbidden, Invalid, NotFound
from labs.models import Person
from tests.factories import CompanyFactory, PersonFactory, SiteFactory
from tests.labs.conftest import ALL_ENDED, ALL_LIVE, signed_in_session

pytestmark = pytest.mark.django_db


class TestDeactivate:
    def test_it_ends_sessions_tokens_badges_and_hosted_visits(self, staff, member, give_holdings):
        held = give_holdings(member)
        assert held.live() == ALL_LIVE

        services.person_deactivate(actor=staff, person=member)

        assert held.live() == ALL_ENDED
        member.user.refresh_from_db()
        assert not member.user.is_active

    def test_it_leaves_other_peoples_sign_ins_alone(self, staff, member, colleague):
        colleague_session = signed_in_session(colleague)
        colleague_token = services.token_for(user=colleague.user)
        signed_in_session(member)

        services.person_deactivate(actor=staff, person=member)

        assert Token.objects.filter(key=colleague_token).exists()
        from django.contrib.sessions.models import Session

        assert list(Session.objects.values_list("session_key", flat=True)) == [colleague_session]

    def test_staff_cannot_deactivate_themselves(self, staff):
        with pytest.raises(Forbidden):
            services.person_deactivate(actor=staff, person=staff)

    def test_reactivating_lets_the_person_sign_in_again_but_brings_nothing_back(self, staff, member, give_holdings):
        held = give_holdings(member)
        services.person_deactivate(actor=staff, person=member)

        services.person_reactivate(actor=staff, person=member)

        member.user.refresh_from_db()
        assert member.user.is_active
        assert held.live() == ALL_ENDED

    def test_an_account_without_a_person_loses_its_sign_ins(self, staff, django_user_model):
        bare = django_user_model.objects.create_user("ops", password="a-long-ops-password")
        token = services.token_for(user=bare)

        services.user_deactivate(actor=staff, user=bare)

        bare.refresh_from_db()
        assert not bare.is_active
        assert not Token.objects.filter(key=token).exists()


class TestChangeRole:
    def test_it_revokes_badges_and_ends_tokens_and_sessions_but_keeps_hosted_visits(self, staff, member, give_holdings):
        held = give_holdings(member)

        services.person_change_role(actor=staff, person=member, role=Role.MENTOR, company=None)

        assert held.live() == {"badge": False, "visit": True, "token": False, "session": False}
        member.refresh_from_db()
        assert (member.role, member.company) == (Role.MENTOR, None)

    def test_a_move_to_another_company_counts_as_a_change(self, staff, member, other_company, give_holdings):
        held = give_holdings(member)

        services.person_change_role(actor=staff, person=member, role=Role.EMPLOYEE, company=other_company)

        assert not held.badge_live() and not held.token_live()

    def test_the_same_role_and_company_end_nothing(self, staff, member, company, give_holdings):
        held = give_holdings(member)

        services.person_change_role(actor=staff, person=member, role=Role.EMPLOYEE, company=company)

        assert held.live() == ALL_LIVE

    def test_staff_who_are_no_longer_staff_lose_the_admin(self, staff, site):
        other_staff = PersonFactory(role=Role.STAFF, company=None, site=site)
        other_staff.user.is_staff = True
        other_staff.user.save()

        services.person_change_role(actor=staff, person=other_staff, role=Role.MENTOR, company=None)

        other_staff.user.refresh_from_db()
        assert not other_staff.user.is_staff

    def test_staff_cannot_change_their_own_role(self, staff):
        with pytest.raises(Forbidden):
            services.person_change_role(actor=staff, person=staff, role=Role.MENTOR, company=None)

    def test_a_company_of_another_site_is_refused(self, staff, member):
        elsewhere = CompanyFactory(site=SiteFactory(slug="aar"))
        with pytest.raises(Invalid) as refused:
            services.person_change_role(actor=staff, person=member, role=Role.EMPLOYEE, company=elsewhere)
        assert "company" in refused.value.extra

    def test_members_may_not_change_roles(self, member, colleague):
        with pytest.raises(Forbidden):
            services.person_change_role(actor=member, person=colleague, role=Role.MENTOR, company=None)

    def test_staff_of_another_site_do_not_find_the_person(self, member):
        aarhus_staff = PersonFactory(role=Role.STAFF, company=None, site=SiteFactory(slug="aar"))
        with pytest.raises(NotFound):
            services.person_change_role(actor=aarhus_staff, person=member, role=Role.MENTOR, company=None)
        with pytest.raises(NotFound):
            services.person_deactivate(actor=aarhus_staff, person=member)


class TestEndMembership:
    def test_a_membership_ending_today_at_the_site_ends_access_now(self, staff, member, give_holdings):
        held = give_holdings(member)
        # 23:30 UTC on 2 March is already 3 March in Copenhagen: the membership has ended there.
        with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), tick=False):
            services.person_end_membership(actor=staff, person=member, ends_on=date(2026, 3, 3))

        assert held.live() == {"badge": False, "visit": False, "token": True, "session": True}

    def test_a_membership_ending_later_keeps_access_until_then(self, staff, member, give_holdings):
        held = give_holdings(member)

        services.person_end_membership(actor=staff, person=member, ends_on=date(2099, 1, 1))

        assert held.live() == ALL_LIVE
        member.refresh_from_db()
        assert member.membership_ends_on == date(2099, 1, 1)


class TestUpdate:
    def test_it_applies_each_change_through_its_service(self, staff, member, give_holdings):
        held = give_holdings(member)

        services.person_update(
            actor=staff,
            person=member,
            changes={"phone": "+45 11", "role": Role.MENTOR, "membership_ends_on": date(2099, 1, 1)},
        )

        member.refresh_from_db()
        assert (member.phone, member.role, member.company_id, member.membership_ends_on) == (
            "+45 11",
            Role.MENTOR,
            None,
            date(2099, 1, 1),
        )
        assert not held.badge_live() and not held.token_live()

    def test_a_refused_change_undoes_the_others(self, staff):
        with pytest.raises(Forbidden):
            services.person_update(actor=staff, person=staff, changes={"phone": "+45 22", "role": Role.MENTOR})

        staff.refresh_from_db()
        assert (staff.phone, staff.role) == ("", Role.STAFF)

    def test_unknown_fields_are_refused(self, staff, member):
        with pytest.raises(Invalid):
            services.person_update(actor=staff, person=member, changes={"site": member.site})


class TestOnboard:
    def test_the_username_is_the_email_lowercased(self):
        assert services.username_for_email(" Maja.Jensen@Nordlys.Example ") == "maja.jensen@nordlys.example"
        assert services.username_for_email("o'brien@x.example") == "o_brien@x.example"

    def test_it_creates_the_person_and_emails_a_set_password_link_after_commit(
        self, staff, site, company, django_capture_on_commit_callbacks, settings
    ):
        settings.PORTAL_BASE_URL = "https://portal.example"
        with django_capture_on_commit_callbacks(execute=True):
            person = services.person_onboard(
                actor=staff,
                email="Ny.Person@Acme.Example",
                first_name="Ny",
                last_name="Person",
                role=Role.EMPLOYEE,
                site=site,
                company=company,
            )
            assert mail.outbox == []  # nothing before commit

        assert person.user.username == "ny.person@acme.example"
        assert person.user.email == "Ny.Person@acme.example"
        assert not person.user.has_usable_password()
        (message,) = mail.outbox
        assert message.to == ["Ny.Person@acme.example"]
        assert re.search(r"https://portal\.example/set-password/[\w-]+/[\w-]+/", message.body)

    def test_with_a_password_no_email_is_sent(self, staff, site, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            person = services.person_onboard(
                actor=staff,
                email="mentor2@labs.example",
                first_name="Ment",
                last_name="Or",
                role=Role.MENTOR,
                site=site,
                password="a sound long passphrase",
            )
        assert person.user.check_password("a sound long passphrase")
        assert mail.outbox == []

    def test_an_email_in_use_is_refused(self, staff, site, member):
        with pytest.raises(Invalid) as refused:
            services.person_onboard(
                actor=staff, email=member.user.email.upper(), first_name="A", last_name="B", role="mentor", site=site
            )
        assert "email" in refused.value.extra

    def test_a_weak_password_is_refused(self, staff, site):
        with pytest.raises(Invalid) as refused:
            services.person_onboard(
                actor=staff, email="w@x.example", first_name="A", last_name="B", role="mentor", site=site, password="1"
            )
        assert refused.value.extra["password"]
        assert not get_user_model().objects.filter(email="w@x.example").exists()

    def test_staff_onboard_at_their_own_site_only(self, staff):
        with pytest.raises(Forbidden):
            services.person_onboard(
                actor=staff,
                email="far@x.example",
                first_name="A",
                last_name="B",
                role="mentor",
                site=SiteFactory(slug="aar"),
            )

    def test_members_cannot_onboard(self, member, site):
        with pytest.raises(Forbidden):
            services.person_onboard(
                actor=member, email="n@x.example", first_name="A", last_name="B", role="mentor", site=site
            )


class TestAttach:
    def test_an_account_gets_its_person(self, site, django_user_model):
        root = django_user_model.objects.create_superuser("root", "root@example.test", "a-long-root-password")

        person = services.person_attach(user=root, role=Role.STAFF, site=site)

        assert Person.objects.get(user=root) == person


class TestSetPassword:
    def test_it_sets_a_valid_password_and_ends_earlier_sign_ins(self, member):
        token = services.token_for(user=member.user)
        session = signed_in_session(member)

        services.user_set_password(user=member.user, password="a brand new passphrase")

        member.user.refresh_from_db()
        assert member.user.check_password("a brand new passphrase")
        assert not Token.objects.filter(key=token).exists()
        from django.contrib.sessions.models import Session

        assert not Session.objects.filter(session_key=session).exists()

    def test_validators_apply(self, member):
        with pytest.raises(Invalid) as refused:
            services.user_set_password(user=member.user, password="password")
        assert refused.value.extra["password"]
