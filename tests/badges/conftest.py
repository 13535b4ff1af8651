"""Fixtures of the badges tests: the main entrance (open to everyone, all hours, visitors too) with its reader, a
second door, digital badges for the personas, and a clock frozen on a plain Monday."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time

import pytest
import time_machine
from rest_framework.test import APIClient

from badges import services
from badges.choices import BadgeKind, Channel, CredentialType
from tests.badges.factories import DoorFactory, DoorRuleFactory, make_reader

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=CPH)  # a Monday, no DST change that week


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=CPH)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def frozen():
    """The clock stands still at Monday 2 March 2026, 09:00 in Copenhagen; ``frozen.move_to(...)`` moves it."""
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def main_door(site):
    door = DoorFactory(site=site, slug="main-entrance", name="Main entrance", allows_visitors=True)
    DoorRuleFactory(door=door)
    return door


@pytest.fixture
def main_reader(main_door):
    reader, key = make_reader(main_door, "cph-main")
    reader.api_key = key
    return reader


@pytest.fixture
def lab_door(site):
    """A second door, for employees only, weekdays 07:00-19:00; closed to visitors."""
    door = DoorFactory(site=site, slug="lab", name="Lab", allows_visitors=False)
    DoorRuleFactory(door=door, roles=["employee"], weekdays=[1, 2, 3, 4, 5], opens_at=time(7), closes_at=time(19))
    return door


@pytest.fixture
def lab_reader(lab_door):
    reader, key = make_reader(lab_door, "cph-lab")
    reader.api_key = key
    return reader


def issue(staff, person, kind=BadgeKind.DIGITAL, **kwargs):
    return services.badge_issue(actor=staff, person=person, kind=kind, **kwargs)


@pytest.fixture
def member_badge(staff, member):
    return issue(staff, member)


@pytest.fixture
def outsider_badge(staff, outsider):
    return issue(staff, outsider)


def decide(reader, value, credential_type=CredentialType.QR, channel=Channel.HTTP, **kwargs):
    return services.access_decide(
        reader=reader,
        reader_ref=reader.slug if reader else "ghost",
        credential_type=credential_type,
        value=value,
        channel=channel,
        **kwargs,
    )


@pytest.fixture
def reader_client(main_reader):
    client = APIClient()
    client.credentials(HTTP_X_READER_KEY=main_reader.api_key)
    return client


def check(client, reader_slug, value, credential_type="qr"):
    return client.post(
        "/api/v1/access/check/",
        {"reader": reader_slug, "credential": {"type": credential_type, "value": value}},
        format="json",
    )
