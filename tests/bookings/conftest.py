"""Fixtures of the bookings tests: a room and a desk at the `site`, and a clock frozen on a plain Monday."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pytest
import time_machine

from tests.bookings.factories import DeskFactory, RoomFactory
from tests.factories import FloorFactory, ZoneFactory

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=CPH)  # a Monday, no DST change that week


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware datetime at Copenhagen wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=CPH)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The personas' passwords are hashed on creation; PBKDF2 would cost a quarter of a second per person."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen():
    """The clock stands still at Monday 2 March 2026, 08:00 in Copenhagen."""
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def floor(site):
    return FloorFactory(site=site, level=1, name="First floor")


@pytest.fixture
def zone(floor):
    return ZoneFactory(floor=floor, slug="north", name="North")


@pytest.fixture
def room(site, floor):
    return RoomFactory(site=site, floor=floor, name="Fjord", capacity=6, amenities=["screen", "video"])


@pytest.fixture
def desk(site, floor, zone):
    return DeskFactory(site=site, floor=floor, zone=zone, label="N-01")


@pytest.fixture
def other_desk(site, floor, zone):
    return DeskFactory(site=site, floor=floor, zone=zone, label="N-02")
