"""Reads for comfort: preferences, where a person is checked in, which devices and commands they may see."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings import selectors as booking_selectors
from bookings.models import Booking, Desk
from comfort.choices import DeviceKind
from comfort.models import Command, Device, Preference, ZoneDecision
from labs.models import Person, Zone
from labs.permissions import is_staff


def preference_of(*, person: Person) -> Preference:
    """The person's preferences, or an unsaved instance with the defaults when they never set any."""
    return Preference.objects.filter(person=person).first() or Preference(person=person)


def desk_occupant_annotations(*, at: datetime) -> dict:
    """Annotations of a Device queryset: the booking occupying the device's desk at ``at`` (as
    ``bookings.selectors.desk_checked_in_booking``: the one that started first) as ``occupant_end`` (None when nobody
    is there) and its organiser's ``occupant_sit_height_mm`` (the default when they never set one)."""
    occupant = booking_selectors.desk_occupancies(at=at).filter(desk_id=OuterRef("desk_id"))
    default = Preference._meta.get_field("desk_sit_height_mm").default
    height = Preference.objects.filter(person_id=OuterRef("organiser_id")).values("desk_sit_height_mm")[:1]
    return {
        "occupant_end": Subquery(occupant.values("end")[:1]),
        "occupant_sit_height_mm": Subquery(
            occupant.annotate(height=Coalesce(Subquery(height), Value(default))).values("height")[:1]
        ),
    }


def zone_occupants(*, zone: Zone, at: datetime) -> list[dict]:
    """The bookings occupying desks of the zone at ``at``, by id, each as ``{"pk", "temperature_c", "fan_speed_pct"}``
    with its organiser's preferences (the defaults when they never set any): zone arbitration's inputs in one query."""
    preference = Preference.objects.filter(person_id=OuterRef("organiser_id"))
    temperature = Preference._meta.get_field("temperature_c")
    fan = Preference._meta.get_field("fan_speed_pct")
    step = Decimal(1).scaleb(-temperature.decimal_places)  # SQLite hands back 21 for 21.0: the field's own places
    rows = list(
        booking_selectors.desk_checked_in_bookings(zone=zone, at=at)
        .order_by("pk")
        .annotate(
            temperature_c=Coalesce(
                Subquery(preference.values("temperature_c")[:1]),
                Value(temperature.default),
                output_field=DecimalField(max_digits=temperature.max_digits, decimal_places=temperature.decimal_places),
            ),
            fan_speed_pct=Coalesce(
                Subquery(preference.values("fan_speed_pct")[:1]), Value(fan.default), output_field=IntegerField()
            ),
        )
        .values("pk", "temperature_c", "fan_speed_pct")
    )
    return [{**row, "temperature_c": Decimal(row["temperature_c"]).quantize(step)} for row in rows]


def checked_in_desk_booking(*, person: Person, at: datetime | None = None) -> Booking | None:
    """The person's desk booking that is checked in and occupies its desk at ``at`` (at most one: bookings
    enforces it)."""
    at = at or timezone.now()
    return (
        Booking.objects.select_related("desk__zone__floor__site")
        .filter(booking_selectors.occupying(at), organiser=person, desk__isnull=False)
        .order_by("-checked_in_at")
        .first()
    )


def workspace_commands(*, desk: Desk) -> list[Command]:
    """The commands that stand for the current desired state of the desk's frame and its zone's HVAC and fan (each
    device's latest version)."""
    devices = Device.objects.filter(
        Q(desk_id=desk.pk, kind=DeviceKind.DESK) | Q(zone_id=desk.zone_id, kind__in=[DeviceKind.HVAC, DeviceKind.FAN]),
        is_active=True,
    )
    return list(
        Command.objects.filter(device__in=devices, version=F("device__desired_version"))
        .select_related("device")
        .order_by("pk")
    )


def desk_device(*, desk_id: int) -> Device | None:
    return Device.objects.select_related("site").filter(desk_id=desk_id, kind=DeviceKind.DESK, is_active=True).first()


def zone_devices(*, zone: Zone) -> dict[str, Device]:
    devices = Device.objects.select_related("site").filter(
        zone=zone, kind__in=[DeviceKind.HVAC, DeviceKind.FAN], is_active=True
    )
    return {device.kind: device for device in devices}


def zone_decision_latest(*, zone: Zone) -> ZoneDecision | None:
    return ZoneDecision.objects.filter(zone=zone).first()


def _visible_condition(person: Person, at: datetime | None) -> Q | None:
    """Members see the devices of the desk they are checked in at and of its zone."""
    booking = checked_in_desk_booking(person=person, at=at)
    if booking is None:
        return None
    return Q(desk_id=booking.desk_id, kind=DeviceKind.DESK) | Q(
        zone_id=booking.desk.zone_id, kind__in=[DeviceKind.HVAC, DeviceKind.FAN]
    )


def device_list(*, person: Person | None, at: datetime | None = None) -> QuerySet[Device]:
    """Devices ``person`` may see: staff all of their site's, others only those at their checked-in desk and zone."""
    latest = Prefetch("commands", queryset=Command.objects.order_by("-version")[:1], to_attr="latest_commands")
    queryset = Device.objects.select_related("site", "desk", "zone").prefetch_related(latest)
    if person is None or not person.user.is_active:
        return queryset.none()
    if is_staff(person):
        return queryset.filter(site_id=person.site_id)
    condition = _visible_condition(person, at)
    return queryset.filter(condition) if condition is not None else queryset.none()


def command_list(*, person: Person | None, at: datetime | None = None) -> QuerySet[Command]:
    """Commands ``person`` may see: staff their site's; others those acting for them or for devices they may see."""
    queryset = Command.objects.select_related("device__site")
    if person is None or not person.user.is_active:
        return queryset.none()
    if is_staff(person):
        return queryset.filter(device__site_id=person.site_id)
    condition = Q(acts_for=person)
    device_condition = _visible_condition(person, at)
    if device_condition is not None:
        condition |= Q(device__in=Device.objects.filter(device_condition).values("pk"))
    return queryset.filter(condition)


def workspace_state(*, person: Person, at: datetime | None = None) -> dict:
    """What the portal's "my workspace" shows: where I am checked in, and my desk's and zone's devices."""
    booking = checked_in_desk_booking(person=person, at=at)
    if booking is None:
        return {"booking": None, "desk": None, "devices": []}
    devices = list(device_list(person=person, at=at))
    return {
        "booking": booking,
        "desk": booking.desk,
        "devices": devices,
        "decision": zone_decision_latest(zone=booking.desk.zone),
    }
