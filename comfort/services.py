"""Every comfort state change: preferences, check-in/out at a desk, zone arbitration, desired versions and the
command lifecycle driven by device messages and the periodic sweep.

Desired state and its command are written in one transaction together with an outbox row; the message goes out only
after commit (labs/outbox.py), QoS 1 and retained, so a device that was away reads it when it returns.
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from bookings import selectors as booking_selectors
from bookings import services as booking_services
from bookings.choices import BookingStatus
from bookings.events import DeskOccupancyChanged, OccupancyCause
from bookings.models import Booking, Desk
from comfort import contract, selectors
from comfort.choices import OPEN_STATES, CommandState, DeviceKind, ZoneBasis
from comfort.models import Command, Device, Preference, ZoneDecision
from labs import bulk, topics
from labs.errors import Invalid
from labs.models import Person, Site, Zone
from labs.outbox import outbox_enqueue, outbox_enqueue_many
from labs.permissions import require_role_allows
from labs.prepared import columns
from labs.topics import Publish

logger = logging.getLogger(__name__)

PREFERENCE_FIELDS = ("desk_sit_height_mm", "desk_stand_height_mm", "temperature_c", "fan_speed_pct")
# A command in one of these final states does not stand for the device's desired state any more: asking for the same
# state again makes a new version instead of returning it.
_RETRYABLE_FINAL = (CommandState.REJECTED, CommandState.FAILED, CommandState.TIMED_OUT, CommandState.EXPIRED)


@dataclass
class WorkspaceResult:
    booking: Booking
    commands: list[Command] = field(default_factory=list)


# --- preferences --------------------------------------------------------------------------------------------------


@transaction.atomic
def preference_update(*, person: Person, data: dict, at: datetime | None = None) -> tuple[Preference, list[Command]]:
    """Change a person's preferences (ranges of MQTT.md; a ValidationError, i.e. 400, outside them). If they are
    checked in at a desk now, the new preferences are applied to that desk and its zone in the same transaction."""
    unknown = set(data) - set(PREFERENCE_FIELDS)
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    require_role_allows(person, "office_preferences", gettext("Office preferences"))
    preference = Preference.objects.select_for_update().filter(person=person).first() or Preference(person=person)
    for name, value in data.items():
        setattr(preference, name, value)
    preference.full_clean()
    preference.save()
    at = at or timezone.now()
    booking = selectors.checked_in_desk_booking(person=person, at=at)
    if booking is None:
        return preference, []
    trigger = {"type": "preferences", "id": booking.pk}
    commands = workspace_sync(desk=booking.desk, at=at, trigger=trigger, acts_for_id=person.pk)
    return preference, commands


# --- check-in and check-out at a desk -----------------------------------------------------------------------------
# The booking is the truth: comfort's own endpoints check in and out through the bookings services, whose occupancy
# event (fired after commit, for every door: the API, the portal, a badge scan, desk presence, a cancellation, the
# booking's end) reaches :func:`on_desk_occupancy_changed`, which moves the desk and re-arbitrates the zone.


def workspace_check_in(*, person: Person, desk: Desk, at: datetime | None = None) -> WorkspaceResult:
    """Check ``person`` in at ``desk`` (bookings' rules). Once that commits, the occupancy event moves the desk to
    their sitting height and re-arbitrates the zone; the result carries the commands that stand for the desk's and
    the zone's state. Checking in again returns the same booking and commands."""
    at = at or timezone.now()
    # The booking's own transaction (no outer one: the desk's command waits for its commit, so every statement
    # spared here is time the person waits for the desk).
    booking = booking_services.desk_check_in(person=person, desk=desk, at=at)
    if booking.checked_in_at != at:
        # Checked in already (no new event): asking again retries the workspace, e.g. after the desk was offline
        # and its command expired. Unchanged state makes no new version.
        workspace_sync(desk=desk, at=at, trigger={"type": "check_in", "id": booking.pk}, acts_for_id=person.pk)
    return WorkspaceResult(booking=booking, commands=selectors.workspace_commands(desk=desk))


def workspace_check_out(*, person: Person, desk: Desk, at: datetime | None = None) -> WorkspaceResult:
    """End the person's checked-in booking of ``desk``; once that commits the desk returns to its default height and
    the zone to the preferences of whoever is left there (its policy when nobody is)."""
    at = at or timezone.now()
    with transaction.atomic():
        booking = booking_services.desk_check_out(person=person, desk=desk, at=at)
    return WorkspaceResult(booking=booking, commands=selectors.workspace_commands(desk=desk))


def on_desk_occupancy_changed(event: DeskOccupancyChanged) -> list[Command]:
    """The bookings occupancy event's handler (registered in ComfortConfig.ready()): sync the desk, then its zone.

    The desk goes first, in its own transaction, so its command is published (after that commit) before the zone is
    arbitrated: a check-in moves the desk without waiting for the HVAC and fan (the hot path measured by
    bench/comfort.py)."""
    kind = OccupancyCause.CHECK_IN if event.occupied else event.cause
    trigger = {"type": str(kind), "id": event.booking_id}
    commands = desk_sync(desk_id=event.desk_id, at=event.at, trigger=trigger, acts_for_id=event.person_id)
    zone = Zone.objects.filter(desks=event.desk_id).first()
    if zone is not None:
        commands += zone_apply(zone=zone, at=event.at, trigger=trigger, acts_for_id=event.person_id)
    return commands


def workspace_sync(*, desk: Desk, at: datetime, trigger: dict, acts_for_id: int | None = None) -> list[Command]:
    """Make the desk and its zone match who is checked in at ``at``: the occupant's sitting height (the default with
    nobody there) and the zone arbitrated from everyone checked in. Reads the current state, so running it twice, or
    for events that arrive late or out of order, changes nothing more.

    Two transactions, the desk's then the zone's, so the desk's command is out before the zone is arbitrated. Each
    locks only its own devices, in primary-key order, so neither can deadlock with the other or with any writer that
    locks in that order; a process that dies between them leaves the zone to :func:`workspace_reconcile`. Inside a
    caller's transaction (a preference change) they are savepoints of it, and every device is locked first."""
    if connection.in_atomic_block:
        # Inside a caller's transaction both parts hold their locks until it ends: take them together first, in
        # primary-key order, as every other writer does.
        zone_devices = Q(zone_id=desk.zone_id, kind__in=[DeviceKind.HVAC, DeviceKind.FAN])
        _lock_devices(Q(desk_id=desk.pk, kind=DeviceKind.DESK) | zone_devices)
    commands = desk_sync(desk_id=desk.pk, at=at, trigger=trigger, acts_for_id=acts_for_id)
    return commands + zone_apply(zone=desk.zone, at=at, trigger=trigger, acts_for_id=acts_for_id)


@transaction.atomic
def desk_sync(*, desk_id: int, at: datetime, trigger: dict, acts_for_id: int | None = None) -> list[Command]:
    """The desk's frame to its occupant's sitting height at ``at`` (the default with nobody there): one read of the
    occupant with their height, the frame locked, its command and outbox row written (a desk without a frame: [])."""
    messages: list[Publish] = []
    writes = _Writes()
    commands = []
    for device in _lock_desk_frame(desk_id=desk_id, at=at):
        if device.occupant_end is not None:
            height, valid_until = device.occupant_sit_height_mm, device.occupant_end
        else:
            height, valid_until = settings.COMFORT_DESK_DEFAULT_HEIGHT_MM, at + settings.COMFORT_COMMAND_VALIDITY
        command = _desired_set(
            device=device,
            desired={"height_mm": height},
            reason=trigger,
            acts_for_id=acts_for_id,
            valid_until=valid_until,
            at=at,
            messages=messages,
            writes=writes,
        )
        commands.append(command)
    _writes_flush(writes)
    outbox_enqueue_many(messages)
    return commands


def workspace_reconcile(*, at: datetime | None = None, limit: int = 500) -> dict:
    """The periodic safety net behind the occupancy event: a desk or zone whose last command does not stand for who
    is checked in now (an event lost to a process that died between commit and handler) is synced again.

    A desk is out of step when someone is checked in at it but its frame's latest command was not issued for that
    booking, or when that command was issued for a check-in whose booking is no longer checked in. A zone is out of
    step when the bookings behind its latest decision are not the ones checked in there now. A fixed number of
    queries whatever the number of desks; only what is out of step is written (at most ``limit`` desks a run)."""
    at = at or timezone.now()
    live = list(
        Booking.objects.filter(booking_selectors.occupying(at), desk__isnull=False)
        .order_by("checked_in_at")
        .values_list("desk_id", "desk__zone_id", "pk")
    )
    occupant_of_desk = {desk_id: booking_id for desk_id, _zone, booking_id in live}
    present_in_zone: dict[int, set[int]] = {}
    for _desk, zone_id, booking_id in live:
        present_in_zone.setdefault(zone_id, set()).add(booking_id)

    stale_desks = set()
    for desk_id, reason in Command.objects.filter(
        device__kind=DeviceKind.DESK, device__is_active=True, version=F("device__desired_version")
    ).values_list("device__desk_id", "reason"):
        reason = reason or {}
        issued_for = reason.get("id") if reason.get("type") in _OCCUPIED_REASONS else None
        if occupant_of_desk.get(desk_id) != issued_for:
            stale_desks.add(desk_id)
    never_commanded = set(
        Device.objects.filter(
            kind=DeviceKind.DESK, is_active=True, desired_version=0, desk_id__any=list(occupant_of_desk)
        ).values_list("desk_id", flat=True)
    )
    stale_desks |= never_commanded
    synced_zones: set[int] = set()
    desks = Desk.objects.filter(pk__any=sorted(stale_desks)[:limit]).select_related("zone__floor__site", "site")
    for desk in desks:
        trigger = {"type": "reconcile", "id": occupant_of_desk.get(desk.pk)}
        workspace_sync(desk=desk, at=at, trigger=trigger, acts_for_id=None)
        synced_zones.add(desk.zone_id)

    zone_ids = set(
        Device.objects.filter(kind__in=[DeviceKind.HVAC, DeviceKind.FAN], is_active=True).values_list(
            "zone_id", flat=True
        )
    )
    latest: dict[int, ZoneDecision] = {}
    for decision in ZoneDecision.objects.filter(zone_id__any=zone_ids).order_by("zone_id", "-decided_at", "-id"):
        latest.setdefault(decision.zone_id, decision)
    zones = 0
    for zone in Zone.objects.filter(pk__any=sorted(zone_ids - synced_zones)).select_related("floor__site"):
        decision = latest.get(zone.pk)
        behind = {i["booking"] for i in decision.reasons.get("inputs", [])} if decision else None
        if behind == present_in_zone.get(zone.pk, set()):
            continue
        zone_apply(zone=zone, at=at, trigger={"type": "reconcile"})
        zones += 1
    return {"desks": len(desks), "zones": zones}


_OCCUPIED_REASONS = (OccupancyCause.CHECK_IN, "preferences", "reconcile")


def _lock_devices(condition: Q, *, occupant_at: datetime | None = None) -> list[Device]:
    """Lock devices in primary-key order (FOR NO KEY UPDATE of the device rows only): every writer takes device locks
    in the same order before touching their commands, so two check-ins in one zone never deadlock. NO KEY: the
    foreign-key checks of other transactions (FOR KEY SHARE on the device, at their commit) are not blocked by it,
    which closed a deadlock found by the comfort bench (a nudge's sent hook holding commands vs a bridge batch).

    ``occupant_at``: each desk frame also carries who occupies its desk then, in the same query (the check-in's
    path to the desk moving): ``occupant_end`` (None when nobody) and ``occupant_sit_height_mm``; and whether it
    has open commands (``has_open_commands``: :func:`_writes_flush` supersedes only then)."""
    devices = Device.objects.select_for_update(of=("self",), no_key=True).select_related("site")
    if occupant_at is not None:
        open_commands = Command.objects.filter(device_id=OuterRef("pk"), state__in=OPEN_STATES)
        devices = devices.annotate(
            **selectors.desk_occupant_annotations(at=occupant_at), has_open_commands=Exists(open_commands)
        )
    return list(devices.filter(condition, is_active=True).order_by("pk"))


# Table names come from the models, values are parameters.
_DESK_FRAME_SQL = f"""
    SELECT {columns(Device, "device")}, site.slug AS site_slug, occupant."end" AS occupant_end,
           EXISTS (SELECT 1 FROM {Command._meta.db_table} command
                    WHERE command.device_id = device.id AND command.state = ANY(%(open)s)) AS has_open_commands,
           CASE WHEN occupant.organiser_id IS NOT NULL
                THEN COALESCE(preference.desk_sit_height_mm, %(default_height)s) END AS occupant_sit_height_mm
      FROM {Device._meta.db_table} device
      JOIN {Site._meta.db_table} site ON site.id = device.site_id
      LEFT JOIN LATERAL (
            SELECT booking."end", booking.organiser_id
              FROM {Booking._meta.db_table} booking
             WHERE booking.desk_id = device.desk_id AND booking.status = %(checked_in)s
               AND booking.checked_in_at <= %(at)s AND booking."end" > %(at)s
             ORDER BY booking.start
             LIMIT 1
           ) occupant ON true
      LEFT JOIN {Preference._meta.db_table} preference ON preference.person_id = occupant.organiser_id
     WHERE device.desk_id = %(desk)s AND device.kind = %(kind)s AND device.is_active
     ORDER BY device.id
       FOR NO KEY UPDATE OF device
"""  # noqa: S608


def _lock_desk_frame(*, desk_id: int, at: datetime) -> list[Device]:
    """The desk's frame, locked like :func:`_lock_devices` locks it, carrying who occupies the desk at ``at``
    (``occupant_end``, None when nobody, and ``occupant_sit_height_mm``): the first statement of every desk move.

    PostgreSQL: one hand-written statement. Built with the ORM (nested subquery annotations on a locking queryset)
    the same read costs ~2.5 ms of Python before it reaches the database, the largest share of a check-in's path to
    the desk moving (bench/comfort.py). Its WHERE is ``bookings.selectors.occupying`` and its order that of
    ``desk_checked_in_booking``; tests/comfort/test_hot_paths.py checks it against the ORM's answer. Elsewhere
    (SQLite: no row locks) the ORM builds it."""
    if connection.vendor != "postgresql":
        return _lock_devices(Q(desk_id=desk_id, kind=DeviceKind.DESK), occupant_at=at)
    default_height = Preference._meta.get_field("desk_sit_height_mm").default
    devices = list(
        Device.objects.raw(
            _DESK_FRAME_SQL,
            {
                "default_height": default_height,
                "checked_in": BookingStatus.CHECKED_IN,
                "at": at,
                "desk": desk_id,
                "kind": DeviceKind.DESK,
                "open": list(OPEN_STATES),
            },
        )
    )
    for device in devices:  # the topic needs the site's slug: a site loaded with only that (the rest deferred)
        device.site = Site.from_db(connection.alias, ["id", "slug"], [device.site_id, device.site_slug])
    return devices


# --- zone arbitration ---------------------------------------------------------------------------------------------


def _half_degrees(value: Decimal) -> Decimal:
    return ((value * 2).quantize(Decimal(1), rounding=ROUND_HALF_UP) / 2).quantize(Decimal("0.1"))


def zone_arbitrate(*, zone: Zone, inputs: list[dict]) -> dict:
    """The zone's setpoint and fan from the preferences of the people checked in (pure; no database).

    ``inputs`` are ``{"booking", "temperature_c", "fan_speed_pct"}``. The setpoint is the median of the temperatures,
    rounded to the 0.5 °C step and clamped to the zone's policy band (default ± COMFORT_ZONE_BAND_C) and to the
    contract's range; the fan runs at the median speed. With nobody there the zone returns to its policy.
    """
    policy_c = Decimal(zone.default_setpoint_c).quantize(Decimal("0.1"))
    band = Decimal(settings.COMFORT_ZONE_BAND_C)
    low = max(policy_c - band, contract.SETPOINT_C[0])
    high = min(policy_c + band, contract.SETPOINT_C[1])
    reasons: dict = {
        "method": "clamped_median",
        "policy_setpoint_c": str(policy_c),
        "band_c": str(band),
        "bounds_c": [str(low), str(high)],
        "inputs": [
            {"booking": i["booking"], "temperature_c": str(i["temperature_c"]), "fan_speed_pct": i["fan_speed_pct"]}
            for i in inputs
        ],
    }
    if not inputs:
        idle = settings.COMFORT_ZONE_IDLE_FAN
        reasons["why"] = "nobody is checked in: the zone's policy applies"
        return {
            "basis": ZoneBasis.POLICY,
            "setpoint_c": _half_degrees(policy_c),
            "fan_on": idle["on"],
            "fan_speed_pct": idle["speed_pct"],
            "reasons": reasons,
        }
    median = Decimal(statistics.median(Decimal(i["temperature_c"]) for i in inputs))
    rounded = _half_degrees(median)
    setpoint = min(max(rounded, _half_degrees(low)), _half_degrees(high))
    fan_speed = int(Decimal(statistics.median(i["fan_speed_pct"] for i in inputs)).quantize(0, ROUND_HALF_UP))
    reasons.update(
        {
            "median_c": str(median),
            "rounded_c": str(rounded),
            "clamped": setpoint != rounded,
            "fan_median_pct": fan_speed,
            "why": f"median of {len(inputs)} checked-in preference(s)"
            + (f", clamped to the policy band {low}..{high} °C" if setpoint != rounded else ""),
        }
    )
    return {
        "basis": ZoneBasis.OCCUPANTS,
        "setpoint_c": setpoint,
        "fan_on": fan_speed > 0,
        "fan_speed_pct": fan_speed,
        "reasons": reasons,
    }


@transaction.atomic
def zone_apply(
    *,
    zone: Zone,
    at: datetime,
    trigger: dict,
    acts_for_id: int | None = None,
) -> list[Command]:
    """Re-arbitrate ``zone`` from who is checked in at ``at``, record the decision with its reasons and set the
    desired state of the zone's HVAC and fan: both locked, written together, their outbox rows in one INSERT."""
    inputs = [
        {"booking": o["pk"], "temperature_c": o["temperature_c"], "fan_speed_pct": o["fan_speed_pct"]}
        for o in selectors.zone_occupants(zone=zone, at=at)
    ]
    outcome = zone_arbitrate(zone=zone, inputs=inputs)
    outcome["reasons"]["trigger"] = trigger
    decision = selectors.zone_decision_latest(zone=zone)
    if decision is None or not _same_decision(decision, outcome):
        # A repeated event or a reconcile that finds the same people makes no new decision (and so no new version).
        decision = ZoneDecision(zone=zone, decided_at=at, **outcome)
        decision.full_clean(exclude=["zone"])
        decision.save()
    devices = {d.kind: d for d in _lock_devices(Q(zone=zone, kind__in=[DeviceKind.HVAC, DeviceKind.FAN]))}
    messages: list[Publish] = []
    writes = _Writes()
    reason = (
        {"type": "zone_policy", "id": decision.pk}
        if decision.basis == ZoneBasis.POLICY
        else {"type": "zone_arbitration", "id": decision.pk}
    )
    wanted = {
        DeviceKind.HVAC: {
            "setpoint_c": float(decision.setpoint_c),
            "mode": settings.COMFORT_ZONE_MODE,
            "fan": settings.COMFORT_ZONE_HVAC_FAN,
        },
        DeviceKind.FAN: {"on": decision.fan_on, "speed_pct": decision.fan_speed_pct},
    }
    valid_until = at + settings.COMFORT_COMMAND_VALIDITY
    commands = [
        _desired_set(
            device=devices[kind],
            desired=wanted[kind],
            reason=reason,
            acts_for_id=acts_for_id,
            valid_until=valid_until,
            at=at,
            messages=messages,
            writes=writes,
        )
        for kind in (DeviceKind.HVAC, DeviceKind.FAN)
        if kind in devices
    ]
    _writes_flush(writes)
    outbox_enqueue_many(messages)
    return commands


def _same_decision(decision: ZoneDecision, outcome: dict) -> bool:
    return (
        decision.basis == outcome["basis"]
        and decision.setpoint_c == outcome["setpoint_c"]
        and decision.fan_on == outcome["fan_on"]
        and decision.fan_speed_pct == outcome["fan_speed_pct"]
        and decision.reasons.get("inputs") == outcome["reasons"]["inputs"]
    )


# --- desired versions ---------------------------------------------------------------------------------------------


def _validate_desired(kind: str, desired: dict) -> None:
    errors = contract.desired_errors(kind, desired)
    if errors:
        raise Invalid("; ".join(errors), code="invalid_desired")


@transaction.atomic
def device_desired_set(
    *,
    device: Device,
    desired: dict,
    reason: dict,
    acts_for: Person | None = None,
    valid_until: datetime | None = None,
    at: datetime | None = None,
) -> Command:
    """Make ``desired`` the device's next version: one command, older open commands superseded, the retained desired
    document in the outbox. Asking for the state the device already has returns its current command instead."""
    [locked] = _lock_devices(Q(pk=device.pk)) or [None]
    if locked is None:
        raise Invalid(gettext("This device is not active."), code="device_inactive")
    messages: list[Publish] = []
    command = _desired_set(
        device=locked,
        desired=desired,
        reason=reason,
        acts_for_id=acts_for.pk if acts_for else None,
        valid_until=valid_until,
        at=at or timezone.now(),
        messages=messages,
    )
    outbox_enqueue_many(messages)
    return command


def _desired_set(
    *,
    device: Device,
    desired: dict,
    reason: dict,
    acts_for_id: int | None,
    valid_until: datetime | None,
    at: datetime,
    messages: list[Publish],
    writes: _Writes | None = None,
) -> Command:
    """``device`` is locked by the caller; the desired document is appended to ``messages`` for the outbox. With
    ``writes`` the rows are written later, together (:func:`_writes_flush`)."""
    _validate_desired(device.kind, desired)
    if device.desired == desired:  # the same state again: its command stands unless it failed or ran out
        latest = device.commands.order_by("-version").first()
        if (
            latest is not None
            and latest.state not in _RETRYABLE_FINAL
            and (latest.valid_until is None or latest.valid_until > at)
        ):
            return latest
    version = device.desired_version + 1
    if writes is None:
        Command.objects.filter(device=device, state__in=OPEN_STATES).update(
            state=CommandState.SUPERSEDED, superseded_at=at, deadline_at=None
        )
    command = Command(
        device=device,
        version=version,
        desired=desired,
        reason=reason,
        acts_for_id=acts_for_id,
        issued_at=at,
        queued_at=at,
        valid_until=valid_until,
    )
    # The database enforces the unique (device, version) and cmd_id: skip the extra SELECTs full_clean would run.
    command.full_clean(exclude=["device", "acts_for"], validate_unique=False, validate_constraints=False)
    device.desired = desired
    device.desired_version = version
    messages.append(command.desired_message(device))
    if writes is not None:  # written with the other devices' in _writes_flush
        writes.commands.append(command)
        writes.devices.append(device)
        return command
    command.save()
    device.save(update_fields=["desired", "desired_version"])
    return command


@dataclass
class _Writes:
    """The writes of several ``_desired_set`` calls, made together: one UPDATE superseding the open commands of every
    changed device, one INSERT of the new commands, one UPDATE of the devices (a check-in moves a desk, an HVAC zone
    and a fan: 3 statements instead of 9)."""

    commands: list[Command] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)


def _writes_flush(writes: _Writes) -> None:
    if not writes.commands:
        return
    at = writes.commands[0].issued_at
    # A device read with ``has_open_commands`` (the desk frame's read) skips the UPDATE when it has none: only writers
    # holding the device's lock create open commands, so none can appear meanwhile.
    with_open = [d.pk for d in writes.devices if getattr(d, "has_open_commands", True)]
    if with_open:
        Command.objects.filter(device_id__any=with_open, state__in=OPEN_STATES).update(
            state=CommandState.SUPERSEDED, superseded_at=at, deadline_at=None
        )
    Command.objects.bulk_create(writes.commands)
    _commands_write(Device, writes.devices, ("desired", "desired_version"))


FAN_OUT_CHUNK = 1000


def devices_desired_set_many(
    *, devices: list[Device], desired: dict | list[dict], reason: dict, valid_until: datetime | None = None
) -> list[Command]:
    """The same change to many devices in a few statements (a site-wide policy, the fan-out bench): one command per
    device, older open commands superseded, one outbox row per device. ``desired`` may be one per device. Devices
    that are no longer active are left out. ``devices`` come with their site (``select_related``: their topics).

    Set-based whatever the count (10,000 devices): the devices are locked and their versions read in one query, the
    commands and the outbox rows inserted with one statement each (``labs.bulk``), the devices' documents set with
    one more. Called outside a transaction, it commits every ``FAN_OUT_CHUNK`` devices, so the first devices' messages
    are on their way (after-commit nudge) while the next chunk is written; inside one, everything commits with it."""
    per_device = desired if isinstance(desired, list) else [desired] * len(devices)
    if len(per_device) != len(devices):
        raise ValueError("one desired document per device")
    for device, wanted in zip(devices, per_device, strict=True):
        _validate_desired(device.kind, wanted)
    if transaction.get_connection().in_atomic_block:
        return _desired_set_chunk(devices, per_device, reason=reason, valid_until=valid_until)
    commands: list[Command] = []
    for start in range(0, len(devices), FAN_OUT_CHUNK):
        with transaction.atomic():
            commands += _desired_set_chunk(
                devices[start : start + FAN_OUT_CHUNK],
                per_device[start : start + FAN_OUT_CHUNK],
                reason=reason,
                valid_until=valid_until,
            )
    return commands


def _desired_set_chunk(
    devices: list[Device], per_device: list[dict], *, reason: dict, valid_until: datetime | None
) -> list[Command]:
    at = timezone.now()
    versions = dict(
        Device.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk__any=[d.pk for d in devices], is_active=True)
        .order_by("pk")
        .values_list("pk", "desired_version")
    )
    targets = [(device, wanted) for device, wanted in zip(devices, per_device, strict=True) if device.pk in versions]
    if not targets:
        return []
    ids = [device.pk for device, _ in targets]
    Command.objects.filter(device_id__any=ids, state__in=OPEN_STATES).update(
        state=CommandState.SUPERSEDED, superseded_at=at, deadline_at=None
    )
    new_versions = [versions[pk] + 1 for pk in ids]
    documents = [wanted for _, wanted in targets]
    commands = bulk.create_many(
        Command,
        {
            "cmd_id": [uuid.uuid4() for _ in targets],
            "device_id": ids,
            "version": new_versions,
            "desired": documents,
        },
        same={"reason": reason, "issued_at": at, "queued_at": at, "valid_until": valid_until},
    )
    bulk.update_columns(Device, ids, {"desired_version": new_versions, "desired": documents})
    outbox_enqueue_many(command.desired_message(device) for command, (device, _) in zip(commands, targets, strict=True))
    return commands


# --- the command lifecycle, driven by the broker and by devices ---------------------------------------------------


@transaction.atomic
def commands_mark_sent(*, cmd_ids: list[str], at: datetime) -> int:
    """The broker acknowledged the publication of these commands' desired documents (the outbox's sent hook)."""
    if not cmd_ids:
        return 0
    # SKIP LOCKED: rows the bridge is moving along right now (an ack raced the PUBACK) are left to it, so this
    # bulk update never waits on, or deadlocks with, the bridge's transactions.
    locked = dict(
        Command.objects.select_for_update(skip_locked=True)
        .filter(cmd_id__any=cmd_ids)
        .order_by("id")
        .values_list("id", "state")
    )
    if not locked:
        return 0
    # One UPDATE: every SET sees the row as it was, so a queued command becomes sent and gets its ack deadline.
    queued = Q(state=CommandState.QUEUED)
    Command.objects.filter(id__any=list(locked)).update(
        attempts=F("attempts") + 1,
        state=Case(When(queued, then=Value(CommandState.SENT)), default=F("state")),
        sent_at=Case(When(queued, then=Coalesce("sent_at", Value(at))), default=F("sent_at")),
        deadline_at=Case(
            When(
                state__in=[CommandState.QUEUED, CommandState.SENT, CommandState.DELIVERED],
                then=Value(at + settings.COMFORT_ACK_TIMEOUT),
            ),
            default=F("deadline_at"),
        ),
    )
    return sum(state == CommandState.QUEUED for state in locked.values())


# The bridge handles thousands of messages a second: it maps (site, device id) to the row id once and then reads and
# writes by primary key. A device that is deleted or renamed simply misses the cache (its UPDATE hits no row).
_DEVICE_PKS: dict[tuple[str, str], int] = {}
_SEEN_ONLINE: dict[tuple[str, str], datetime] = {}
_SEEN_EVERY = timedelta(seconds=5)


_UNKNOWN: dict[tuple[str, str], float] = {}
_UNKNOWN_FOR_S = 10.0


def _device_pk(site: str, device_id: str) -> int | None:
    """The device's row id, cached; an unknown device is remembered as unknown for a few seconds, so the retained
    messages of devices that are not (or no longer) registered cost no query each when the bridge reconnects."""
    key = (site, device_id)
    pk = _DEVICE_PKS.get(key)
    if pk is not None:
        return pk
    checked = _UNKNOWN.get(key)
    if checked is not None and time.monotonic() - checked < _UNKNOWN_FOR_S:
        return None
    pk = Device.objects.filter(device_id=device_id, site__slug=site).values_list("pk", flat=True).first()
    for cache in (_DEVICE_PKS, _UNKNOWN):
        if len(cache) > 100_000:
            cache.clear()
    if pk is None:
        _UNKNOWN[key] = time.monotonic()
    else:
        _DEVICE_PKS[key] = pk
        _UNKNOWN.pop(key, None)
    return pk


def _device_pks_many(keys: set[tuple[str, str]]) -> None:
    """Fill the device-id cache for ``keys`` in one query (the bridge's batches)."""
    missing = [k for k in keys if k not in _DEVICE_PKS and k not in _UNKNOWN]
    if not missing:
        return
    rows = Device.objects.filter(
        site__slug__any={site for site, _ in missing}, device_id__any={device for _, device in missing}
    ).values_list("site__slug", "device_id", "pk")
    found = {(site, device): pk for site, device, pk in rows}
    for key in missing:
        pk = found.get(key)
        if pk is None:
            _UNKNOWN[key] = time.monotonic()
        else:
            _DEVICE_PKS[key] = pk


def devices_lock_for_topics(topic_names: list[str]) -> int:
    """The bridge's batch lock hook (labs.mqtt_router.register_lock): lock the devices these topics name, in primary
    key order, before any handler of the batch writes. Check-ins and fan-outs lock devices in the same order
    (``_lock_devices``), so a batch that spans many devices never deadlocks with them."""
    keys = set()
    for name in topic_names:
        parsed = topics.parse(name)
        if parsed is not None and parsed.kind in topics.DEVICE_KINDS:
            keys.add((parsed.site, parsed.device_id))
    _device_pks_many(keys)
    pks = sorted({pk for key in keys if (pk := _device_pk(*key)) is not None})
    if not pks or not connection.features.has_select_for_update:
        return 0
    # FOR NO KEY UPDATE, as _lock_devices: writers still exclude each other, but a foreign-key check of another
    # transaction (FOR KEY SHARE, e.g. the outbox's sent hook updating commands) is never blocked by it.
    locked = (
        Device.objects.select_for_update(no_key=True).filter(pk__any=pks).order_by("pk").values_list("pk", flat=True)
    )
    return len(list(locked))


def _device_seen(key: tuple[str, str], pk: int, at: datetime) -> None:
    """Note that the device is alive; skips the write when this process marked it online in the last few seconds."""
    last = _SEEN_ONLINE.get(key)
    if last is not None and timedelta(0) <= at - last < _SEEN_EVERY:
        return
    Device.objects.filter(pk=pk).update(online=True, last_seen_at=at)
    _SEEN_ONLINE[key] = at


def command_record_ack(*, site: str, device_id: str, payload: dict, at: datetime | None = None) -> bool:
    """Apply one device ack (MQTT.md): 202 moves the command to in_progress, 200 to applied, 409 marks it superseded
    (the device holds a newer version), 400/422 rejected, 410 expired, anything else failed. Conditional updates:
    an ack never moves a command out of a final state, except that a late 200 turns timed_out into applied.
    Returns whether the ack named a known command of that device."""
    at = at or timezone.now()
    device_pk = _device_pk(site, device_id)
    command = (
        Command.objects.filter(cmd_id=payload["cmd_id"], device_id=device_pk).values("pk", "version").first()
        if device_pk
        else None
    )
    if command is None or command["version"] != payload["av"]:
        logger.info("ack for an unknown command %s v%s of %s", payload.get("cmd_id"), payload.get("av"), device_id)
        return False
    _device_seen((site, device_id), device_pk, at)
    code = payload["ac"]
    detail = str(payload.get("ad", ""))[:255]
    changes: dict = {
        "delivered_at": Coalesce("delivered_at", at),
        "sent_at": Coalesce("sent_at", at),
        "result_code": code,
        "result_detail": detail,
    }
    allowed_from = list(OPEN_STATES)
    if code == contract.ACK_IN_PROGRESS:
        eta = payload.get("eta_s") or 0
        changes.update(
            state=CommandState.IN_PROGRESS,
            in_progress_at=Coalesce("in_progress_at", at),
            progress=payload.get("progress"),
            deadline_at=at + timedelta(seconds=float(eta)) + settings.COMFORT_PROGRESS_GRACE,
        )
    elif code == contract.ACK_APPLIED:
        changes.update(
            state=CommandState.APPLIED,
            applied_at=at,
            progress=1.0,
            deadline_at=None,
            result_reported=payload.get("reported"),
        )
        allowed_from.append(CommandState.TIMED_OUT)
    elif code == contract.ACK_STALE:
        changes.update(state=CommandState.SUPERSEDED, superseded_at=at, deadline_at=None)
    elif code in (contract.ACK_INVALID, contract.ACK_UNPROCESSABLE):
        changes.update(state=CommandState.REJECTED, rejected_at=at, deadline_at=None)
    elif code == contract.ACK_EXPIRED:
        changes.update(state=CommandState.EXPIRED, expired_at=at, deadline_at=None)
    else:
        changes.update(state=CommandState.FAILED, failed_at=at, deadline_at=None)
    Command.objects.filter(pk=command["pk"], state__in=allowed_from).update(**changes)
    return True


_ACK_FIELDS = (
    "state",
    "delivered_at",
    "sent_at",
    "in_progress_at",
    "applied_at",
    "superseded_at",
    "rejected_at",
    "expired_at",
    "failed_at",
    "result_code",
    "result_detail",
    "result_reported",
    "progress",
    "deadline_at",
)


def _apply_ack(command: Command | SimpleNamespace, payload: dict, at: datetime) -> bool:
    """:func:`command_record_ack`'s rules on an instance (the batch path); returns whether it changed."""
    code = payload["ac"]
    allowed_from = set(OPEN_STATES)
    if code == contract.ACK_APPLIED:
        allowed_from.add(CommandState.TIMED_OUT)
    if command.state not in allowed_from:
        return False
    command.delivered_at = command.delivered_at or at
    command.sent_at = command.sent_at or at
    command.result_code = code
    command.result_detail = str(payload.get("ad", ""))[:255]
    if code == contract.ACK_IN_PROGRESS:
        command.state = CommandState.IN_PROGRESS
        command.in_progress_at = command.in_progress_at or at
        command.progress = payload.get("progress")
        eta = payload.get("eta_s") or 0
        command.deadline_at = at + timedelta(seconds=float(eta)) + settings.COMFORT_PROGRESS_GRACE
        return True
    command.deadline_at = None
    if code == contract.ACK_APPLIED:
        command.state, command.applied_at, command.progress = CommandState.APPLIED, at, 1.0
        command.result_reported = payload.get("reported")
    elif code == contract.ACK_STALE:
        command.state, command.superseded_at = CommandState.SUPERSEDED, at
    elif code in (contract.ACK_INVALID, contract.ACK_UNPROCESSABLE):
        command.state, command.rejected_at = CommandState.REJECTED, at
    elif code == contract.ACK_EXPIRED:
        command.state, command.expired_at = CommandState.EXPIRED, at
    else:
        command.state, command.failed_at = CommandState.FAILED, at
    return True


def commands_record_acks(*, acks: list[tuple[str, str, dict]], at: datetime | None = None) -> int:
    """Many acks ``(site, device_id, payload)`` at once (the bridge's batch): the same rules as
    :func:`command_record_ack`, applied in order, in three statements: read the commands (locked), mark their devices
    seen, write the changed commands. Returns how many acks named a known command of their device."""
    at = at or timezone.now()
    keys = {(site, device_id) for site, device_id, _ in acks}
    _device_pks_many(keys)
    cmd_ids = set()
    for _, _, payload in acks:
        try:
            cmd_ids.add(uuid.UUID(payload["cmd_id"]))
        except (ValueError, TypeError, AttributeError):
            logger.warning("dropping ack with an invalid cmd_id %r", payload.get("cmd_id"))
    names = ("pk", "cmd_id", "device_id", "version", *_ACK_FIELDS)
    queryset = Command.objects.filter(cmd_id__any=cmd_ids)
    if connection.features.has_select_for_update:
        queryset = queryset.select_for_update(of=("self",), no_key=True).order_by("pk")
    # Plain records, not model instances: the batch reads, changes and writes these columns only (building deferred
    # Command instances was a tenth of the bridge's time, bench/bridge.py with py-spy).
    commands = {row[1]: SimpleNamespace(**dict(zip(names, row, strict=True))) for row in queryset.values_list(*names)}
    changed: dict[int, SimpleNamespace] = {}
    seen: dict[tuple[str, str], int] = {}
    known = 0
    for site, device_id, payload in acks:
        try:
            command = commands.get(uuid.UUID(payload["cmd_id"]))
        except (ValueError, TypeError, AttributeError):
            continue
        device_pk = _DEVICE_PKS.get((site, device_id))
        if command is None or command.device_id != device_pk or command.version != payload["av"]:
            logger.info("ack for an unknown command %s v%s of %s", payload.get("cmd_id"), payload.get("av"), device_id)
            continue
        known += 1
        seen[(site, device_id)] = device_pk
        if _apply_ack(command, payload, at):
            changed[command.pk] = command
    stale = {
        key: pk
        for key, pk in seen.items()
        if (last := _SEEN_ONLINE.get(key)) is None or not timedelta(0) <= at - last < _SEEN_EVERY
    }
    if stale:
        Device.objects.filter(pk__any=sorted(stale.values())).update(online=True, last_seen_at=at)
        for key in stale:
            _SEEN_ONLINE[key] = at
    if changed:
        _commands_write(Command, sorted(changed.values(), key=lambda c: c.pk), _ACK_FIELDS)
    return known


def _commands_write(model, rows: list, fields: tuple[str, ...]) -> None:
    """Write ``fields`` of many rows of one model (commands, devices), each row its own values: on PostgreSQL one
    ``UPDATE ... FROM unnest(arrays)`` whatever the count, its parameters sent in binary (``labs.bulk``); Django's
    bulk_update builds a CASE per field with a branch per row (seconds at 500 rows). Elsewhere one UPDATE a row."""
    bulk.update_columns(model, [row.pk for row in rows], {f: [getattr(row, f) for row in rows] for f in fields})


# A report says the device is alive only when it is recent: the broker replays every device's retained report to a
# bridge that (re)subscribes, the reports of devices that went offline long ago among them (their retained status
# says "offline"; the replay's order between the two topics is the broker's). Presence (a desk's "occupied") too.
REPORT_FRESH = timedelta(minutes=2)


def report_is_fresh(ts, now: datetime) -> bool:
    """Whether a report stamped ``ts`` (ISO 8601; MQTT.md) is news at ``now``; a report without ``ts`` is taken as
    live (it arrived now)."""
    if ts is None:
        return True
    moment = contract.parse_iso(ts) if isinstance(ts, str) else None
    return moment is not None and abs(now - moment) <= REPORT_FRESH


def device_record_reported(*, site: str, device_id: str, payload: dict, at: datetime | None = None) -> bool:
    """Store the device's reported state; it also settles commands whose ack was lost: the applied version becomes
    applied, older open ones superseded. Only a fresh report (:func:`report_is_fresh`) marks the device online."""
    at = at or timezone.now()
    version = payload.get("v_applied")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return False
    device_pk = _device_pk(site, device_id)
    reported = {k: v for k, v in payload.items() if k != "v_applied"}
    fresh = report_is_fresh(payload.get("ts"), at)
    alive = {"online": True, "last_seen_at": at} if fresh else {}
    if not device_pk or not Device.objects.filter(pk=device_pk).update(
        reported=reported, reported_version=version, reported_at=at, **alive
    ):
        return False
    if fresh:
        _SEEN_ONLINE[(site, device_id)] = at
    commands = Command.objects.filter(device_id=device_pk, state__in=OPEN_STATES, version__lte=version)
    if payload.get("moving"):
        commands = commands.filter(version__lt=version)
    # one UPDATE: the applied version becomes applied, older open ones superseded
    commands.update(
        state=Case(When(version=version, then=Value(CommandState.APPLIED)), default=Value(CommandState.SUPERSEDED)),
        applied_at=Case(When(version=version, then=Value(at)), default=F("applied_at")),
        superseded_at=Case(When(version=version, then=F("superseded_at")), default=Value(at)),
        delivered_at=Case(When(version=version, then=Coalesce("delivered_at", Value(at))), default=F("delivered_at")),
        sent_at=Case(When(version=version, then=Coalesce("sent_at", Value(at))), default=F("sent_at")),
        progress=Case(When(version=version, then=Value(1.0)), default=F("progress")),
        deadline_at=None,
    )
    return True


def device_record_presence(*, site: str, device_id: str, at: datetime | None = None) -> Booking | None:
    """A desk frame sensed someone at it (``occupied`` in its report): the desk's booking that is due now is checked
    in through bookings (desk presence is a check-in door like any other; the occupancy event moves the desk)."""
    at = at or timezone.now()
    device_pk = _device_pk(site, device_id)
    desk_id = (
        Device.objects.filter(pk=device_pk, kind=DeviceKind.DESK).values_list("desk_id", flat=True).first()
        if device_pk
        else None
    )
    desk = Desk.objects.select_related("site").filter(pk=desk_id).first() if desk_id else None
    if desk is None:
        return None
    return booking_services.desk_presence_check_in(desk=desk, at=at)


def device_record_status(*, site: str, device_id: str, online: bool, at: datetime | None = None) -> bool:
    """``online`` after connect, ``offline`` from the Last Will. A device that returns gets its retained desired state
    from the broker; its open commands get a fresh ack deadline, so the sweep retries them if it does not answer."""
    at = at or timezone.now()
    device_pk = _device_pk(site, device_id)
    if not device_pk or not Device.objects.filter(pk=device_pk).update(online=online, last_seen_at=at):
        return False
    if online:
        _SEEN_ONLINE[(site, device_id)] = at
        Command.objects.filter(
            device_id=device_pk, state__in=[CommandState.SENT, CommandState.DELIVERED, CommandState.IN_PROGRESS]
        ).update(deadline_at=at + settings.COMFORT_ACK_TIMEOUT)
    else:
        _SEEN_ONLINE.pop((site, device_id), None)
    return True


def devices_record_reported(*, reports: list[tuple[str, str, dict]], at: datetime | None = None) -> int:
    """Many reports ``(site, device_id, payload)``, at most one per device (a bridge round), by the rules of
    :func:`device_record_reported`. PostgreSQL: two statements for the whole round, one for the devices and one for
    their open commands (after a broker restart 10,000 devices report at once: one by one, that is a minute of
    queries). Elsewhere: one by one. Returns how many reports named a known device."""
    at = at or timezone.now()
    if connection.vendor != "postgresql":
        return sum(device_record_reported(site=s, device_id=d, payload=p, at=at) for s, d, p in reports)
    from psycopg.types.json import Jsonb

    _device_pks_many({(site, device_id) for site, device_id, _ in reports})
    rows: dict[int, tuple] = {}
    keys: dict[int, tuple[str, str]] = {}
    for site, device_id, payload in reports:
        version = payload.get("v_applied")
        device_pk = _DEVICE_PKS.get((site, device_id))
        if not isinstance(version, int) or isinstance(version, bool) or version < 0 or not device_pk:
            continue
        reported = {k: v for k, v in payload.items() if k != "v_applied"}
        fresh = report_is_fresh(payload.get("ts"), at)
        rows[device_pk] = (device_pk, Jsonb(reported), version, bool(payload.get("moving")), fresh)
        keys[device_pk] = (site, device_id)
    if not rows:
        return 0
    ordered = [rows[pk] for pk in sorted(rows)]
    # The rows travel as arrays in binary (labs.bulk.execute_binary): the statements' text is the same whatever
    # the count, so neither psycopg nor PostgreSQL parses a new statement for each round.
    *arrays, fresh_flags = [list(column) for column in zip(*ordered, strict=True)]
    unnest = "unnest(%b::bigint[], %b::jsonb[], %b::integer[], %b::boolean[])"
    with_fresh = "unnest(%b::bigint[], %b::jsonb[], %b::integer[], %b::boolean[], %b::boolean[])"
    device_table, command_table = Device._meta.db_table, Command._meta.db_table
    known = [
        (row[0], row[1])
        for row in bulk.execute_binary(
            f"""UPDATE {device_table} AS d SET reported = v.reported, reported_version = v.version,
                       reported_at = %b, online = d.online OR v.fresh,
                       last_seen_at = CASE WHEN v.fresh THEN %b ELSE d.last_seen_at END
                FROM {with_fresh} AS v (id, reported, version, moving, fresh)
                WHERE d.id = v.id RETURNING d.id, v.fresh""",  # noqa: S608
            [at, at, *arrays, fresh_flags],
        )
    ]
    # The applied version becomes applied, older open ones superseded; while the device still moves, its reported
    # version is not applied yet (only older ones are superseded).
    bulk.execute_binary(
        f"""UPDATE {command_table} AS c SET
                state = CASE WHEN c.version = v.version THEN %b::varchar ELSE %b::varchar END,
                applied_at = CASE WHEN c.version = v.version THEN %b ELSE c.applied_at END,
                superseded_at = CASE WHEN c.version = v.version THEN c.superseded_at ELSE %b END,
                delivered_at = CASE WHEN c.version = v.version THEN COALESCE(c.delivered_at, %b)
                               ELSE c.delivered_at END,
                sent_at = CASE WHEN c.version = v.version THEN COALESCE(c.sent_at, %b) ELSE c.sent_at END,
                progress = CASE WHEN c.version = v.version THEN 1.0 ELSE c.progress END,
                deadline_at = NULL
            FROM {unnest} AS v (device_id, reported, version, moving)
            WHERE c.device_id = v.device_id AND c.state = ANY(%b::varchar[])
              AND (c.version < v.version OR (c.version = v.version AND NOT v.moving))""",  # noqa: S608
        [
            str(CommandState.APPLIED),
            str(CommandState.SUPERSEDED),
            at,
            at,
            at,
            at,
            *arrays,
            [str(state) for state in OPEN_STATES],
        ],
        rows=False,
    )
    for pk, fresh in known:
        if fresh:
            _SEEN_ONLINE[keys[pk]] = at
    return len(known)


def devices_record_status(*, statuses: list[tuple[str, str, bool]], at: datetime | None = None) -> int:
    """Many ``(site, device_id, online)``, at most one per device (a bridge round), by the rules of
    :func:`device_record_status`, in at most three statements. Returns how many named a known device."""
    at = at or timezone.now()
    _device_pks_many({(site, device_id) for site, device_id, _ in statuses})
    by_state: dict[bool, dict[int, tuple[str, str]]] = {True: {}, False: {}}
    for site, device_id, online in statuses:
        device_pk = _DEVICE_PKS.get((site, device_id))
        if device_pk:
            by_state[online][device_pk] = (site, device_id)
    known = 0
    for online, devices in by_state.items():
        if not devices:
            continue
        known += Device.objects.filter(pk__any=sorted(devices)).update(online=online, last_seen_at=at)
        for key in devices.values():
            if online:
                _SEEN_ONLINE[key] = at
            else:
                _SEEN_ONLINE.pop(key, None)
    if by_state[True]:
        Command.objects.filter(
            device_id__any=sorted(by_state[True]),
            state__in=[CommandState.SENT, CommandState.DELIVERED, CommandState.IN_PROGRESS],
        ).update(deadline_at=at + settings.COMFORT_ACK_TIMEOUT)
    return known


def device_record_telemetry(*, site: str, device_id: str, payload: dict, at: datetime | None = None) -> int:
    at = at or timezone.now()
    return Device.objects.filter(device_id=device_id, site__slug=site).update(
        telemetry=payload, telemetry_at=at, online=True, last_seen_at=at
    )


@transaction.atomic
def commands_sweep(*, at: datetime | None = None) -> dict:
    """The periodic job (idempotent: every change is a conditional UPDATE).

    1. Open commands past ``valid_until`` expire.
    2. Online devices that missed their deadline get the same document again (same version and cmd_id: the device is
       idempotent on cmd_id), with a doubling deadline, up to COMFORT_MAX_ATTEMPTS publications; then timed_out.
       Offline devices are left alone: the broker hands them the retained document when they return.
    """
    at = at or timezone.now()
    # SKIP LOCKED throughout: rows a check-in or the bridge holds right now are left for the next run.
    expiring = Command.objects.select_for_update(skip_locked=True).filter(state__in=OPEN_STATES, valid_until__lte=at)
    expired = Command.objects.filter(pk__any=list(expiring.values_list("pk", flat=True)[:5000])).update(
        state=CommandState.EXPIRED, expired_at=at, deadline_at=None
    )
    retried = timed_out = 0
    late = (
        Command.objects.select_related("device__site")
        .select_for_update(of=("self",), skip_locked=True)
        .filter(
            state__in=[CommandState.SENT, CommandState.DELIVERED, CommandState.IN_PROGRESS],
            deadline_at__lte=at,
            device__online=True,
        )
        .order_by("id")[:1000]
    )
    max_attempts = settings.COMFORT_MAX_ATTEMPTS
    timeout = settings.COMFORT_ACK_TIMEOUT
    for command in late:
        if command.attempts >= max_attempts:
            timed_out += Command.objects.filter(pk=command.pk, state=command.state).update(
                state=CommandState.TIMED_OUT, timed_out_at=at, deadline_at=None
            )
            continue
        backoff = timeout * (2 ** max(command.attempts - 1, 0))
        if Command.objects.filter(pk=command.pk, state=command.state, deadline_at__lte=at).update(
            deadline_at=at + backoff
        ):
            outbox_enqueue(command.desired_message(command.device))
            retried += 1
    return {"expired": expired, "retried": retried, "timed_out": timed_out}


def comfort_history_purge(*, at: datetime | None = None) -> dict:
    """Delete finished commands and zone decisions older than COMFORT_HISTORY_RETENTION (their retention), keeping
    each device's latest command."""
    cutoff = (at or timezone.now()) - settings.COMFORT_HISTORY_RETENTION
    commands, _ = Command.objects.filter(
        ~Q(state__in=OPEN_STATES), issued_at__lt=cutoff, version__lt=F("device__desired_version")
    ).delete()
    decisions, _ = ZoneDecision.objects.filter(decided_at__lt=cutoff).delete()
    return {"commands": commands, "zone_decisions": decisions}
