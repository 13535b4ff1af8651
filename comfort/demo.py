"""Demo data for comfort: a desk device per desk, an HVAC and a fan per zone, preferences for the demo people.

Called by ``manage.py demo_site``; idempotent (update_or_create keyed by device id and person).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.text import slugify

from bookings.models import Desk
from comfort.choices import DeviceKind
from comfort.models import Device, Preference
from labs.models import Person, Site, Zone


def device_id_for(site: Site, kind: str, name: str) -> str:
    return slugify(f"{site.slug}-{kind}-{name}")[:64]


def seed(*, site: Site, stdout=None) -> dict:
    created = {"devices": 0, "preferences": 0}
    for desk in Desk.objects.filter(site=site, is_active=True).select_related("zone"):
        _, new = Device.objects.update_or_create(
            device_id=device_id_for(site, DeviceKind.DESK, desk.label),
            defaults={"kind": DeviceKind.DESK, "site": site, "desk": desk, "zone": desk.zone, "is_active": True},
        )
        created["devices"] += new
    for zone in Zone.objects.filter(floor__site=site):
        for kind in (DeviceKind.HVAC, DeviceKind.FAN):
            _, new = Device.objects.update_or_create(
                device_id=device_id_for(site, kind, f"{zone.floor.level}-{zone.slug}"),
                defaults={"kind": kind, "site": site, "zone": zone, "is_active": True},
            )
            created["devices"] += new
    for person in Person.objects.filter(site=site).order_by("pk"):
        # Varied but deterministic preferences, so zone arbitration has something to arbitrate.
        sit = 680 + (person.pk * 37) % 120
        _, new = Preference.objects.get_or_create(
            person=person,
            defaults={
                "desk_sit_height_mm": sit,
                "desk_stand_height_mm": sit + 380,
                "temperature_c": Decimal(40 + person.pk % 9) / 2,
                "fan_speed_pct": (person.pk * 13) % 80,
            },
        )
        created["preferences"] += new
    if stdout is not None:
        stdout.write(
            f"  comfort: {Device.objects.filter(site=site).count()} devices, "
            f"{Preference.objects.filter(person__site=site).count()} preferences "
            f"({created['devices']} and {created['preferences']} new)"
        )
    return created
