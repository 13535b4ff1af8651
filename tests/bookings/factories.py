"""Factories and helpers for the bookings tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from bookings.models import Booking, Desk, Room
from tests.factories import FloorFactory, SiteFactory, ZoneFactory


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    site = factory.SubFactory(SiteFactory)
    floor = factory.SubFactory(FloorFactory, site=factory.SelfAttribute("..site"))
    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 8
    amenities = factory.LazyFunction(lambda: ["screen", "whiteboard"])


class DeskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Desk

    site = factory.SubFactory(SiteFactory)
    floor = factory.SubFactory(FloorFactory, site=factory.SelfAttribute("..site"))
    zone = factory.SubFactory(ZoneFactory, floor=factory.SelfAttribute("..floor"))
    label = factory.Sequence(lambda n: f"D-{n:03d}")


class BookingFactory(factory.django.DjangoModelFactory):
    """A booking written straight to the table (no rules): for setting the scene, not for testing the service."""

    class Meta:
        model = Booking

    room = factory.SubFactory(RoomFactory)
    site = factory.LazyAttribute(lambda o: (o.room or o.desk).site)
    organiser = None
    company = factory.LazyAttribute(lambda o: o.organiser.company if o.organiser else None)
    start = factory.LazyFunction(lambda: datetime(2030, 1, 7, 9, tzinfo=UTC))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    hold_end = factory.LazyAttribute(lambda o: o.end + timedelta(minutes=o.room.buffer_minutes if o.room else 0))
