"""Fixtures of the core tests: what a person holds that their access ending must end (badge, hosted visit, API
token, signed-in session), and a staff account that may use the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from badges import services as badge_services
from badges.choices import BadgeKind, BadgeStatus
from badges.models import Badge, Visit
from labs import services
from tests.sign_in import signed_in


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@dataclass
class Holdings:
    """A person's badge, a visit they host, an API token and a signed-in session, and which of them still work."""

    badge: Badge
    visit: Visit
    token: str
    session_key: str

    def badge_live(self) -> bool:
        return Badge.objects.get(pk=self.badge.pk).status == BadgeStatus.ACTIVE

    def visit_live(self) -> bool:
        return Visit.objects.get(pk=self.visit.pk).cancelled_at is None

    def token_live(self) -> bool:
        return Token.objects.filter(key=self.token).exists()

    def session_live(self) -> bool:
        return Session.objects.filter(session_key=self.session_key).exists()

    def live(self) -> dict[str, bool]:
        return {
            "badge": self.badge_live(),
            "visit": self.visit_live(),
            "token": self.token_live(),
            "session": self.session_live(),
        }


ALL_LIVE = {"badge": True, "visit": True, "token": True, "session": True}
ALL_ENDED = {"badge": False, "visit": False, "token": False, "session": False}


def signed_in_session(person) -> str:
    """A real session row, as a browser signing in to the portal leaves."""
    browser = Client()
    browser.force_login(person.user)
    return browser.session.session_key


@pytest.fixture
def give_holdings(staff):
    def give(person) -> Holdings:
        badge = badge_services.badge_issue(actor=staff, person=person, kind=BadgeKind.DIGITAL)
        start = timezone.now() + timedelta(days=1)
        end = start + timedelta(hours=2)
        visit = badge_services.visit_create(
            host=person, site=person.site, name="Vera Visitor", email="vera@guests.example", start=start, end=end
        )
        return Holdings(
            badge=badge, visit=visit, token=services.token_for(user=person.user), session_key=signed_in_session(person)
        )

    return give


@pytest.fixture
def admin_client_staff(client, staff):
    """The staff persona signed in to the admin (superuser: permissions are the demo's concern)."""
    staff.user.is_staff = True
    staff.user.is_superuser = True
    staff.user.save()
    return signed_in(client, staff)  # the password and the authenticator's code, as staff sign in to the admin
