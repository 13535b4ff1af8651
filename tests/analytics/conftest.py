"""Fixtures of the analytics tests: a Copenhagen site with three rooms, people, and helpers to write bookings."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest

from bookings.choices import BookingStatus
from bookings.models import Booking
from labs.choices import Role
from tests.bookings.factories import RoomFactory
from tests.factories import FloorFactory, PersonFactory

CPH = zoneinfo.ZoneInfo("Europe/Copenhagen")


def local(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CPH)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def floor(site):
    return FloorFactory(site=site, level=1, name="First floor")


@pytest.fixture
def rooms(site, floor):
    return {
        "A": RoomFactory(site=site, floor=floor, name="Alpha", capacity=4),
        "B": RoomFactory(site=site, floor=floor, name="Beta", capacity=4),
        "C": RoomFactory(site=site, floor=floor, name="Gamma", capacity=10),
    }


@pytest.fixture
def people(site):
    return [
        PersonFactory(user__username=f"p{i}", user__email=f"p{i}@example.test", role=Role.MENTOR, site=site)
        for i in range(10)
    ]


def book(room, person, start, end, *, status=BookingStatus.COMPLETED, created=None, **fields) -> Booking:
    """A booking written straight to the table (history: no rules), with its creation moment."""
    booking = Booking.objects.create(
        site=room.site,
        room=room,
        organiser=person,
        start=start,
        end=end,
        hold_end=end + timedelta(minutes=room.buffer_minutes),
        status=status,
        **fields,
    )
    if created is not None:
        Booking.objects.filter(pk=booking.pk).update(created_at=created)
    return booking
