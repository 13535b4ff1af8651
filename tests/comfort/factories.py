"""Factories for comfort tests: desks in zones, and their devices."""

from __future__ import annotations

import uuid

import factory

from bookings.models import Desk
from comfort.models import Device, Preference
from tests.factories import FloorFactory, ZoneFactory


class DeskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Desk

    zone = factory.SubFactory(ZoneFactory)
    floor = factory.LazyAttribute(lambda o: o.zone.floor)
    site = factory.LazyAttribute(lambda o: o.zone.floor.site)
    label = factory.Sequence(lambda n: f"D{n:03d}")


def unique_id(kind: str) -> str:
    """Device ids unique per run: a real broker keeps retained messages between test runs."""
    return f"t-{kind}-{uuid.uuid4().hex[:10]}"


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    device_id = factory.LazyAttribute(lambda o: unique_id(o.kind))
    kind = "desk"
    site = factory.LazyAttribute(lambda o: o.desk.site if o.desk else o.zone.floor.site)
    desk = None
    zone = factory.LazyAttribute(lambda o: o.desk.zone if o.desk else None)


class PreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Preference


__all__ = ["DeskFactory", "DeviceFactory", "FloorFactory", "PreferenceFactory", "ZoneFactory"]
