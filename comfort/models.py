"""Comfort: people's office preferences, the devices that apply them, and the commands sent to those devices.

A device's desired state is versioned: every change makes a new version, and each version is one :class:`Command`
that carries the document sent to the device and its state, with a timestamp for every hop. The device row holds the
current desired document and the last reported one.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy

from bookings.models import Desk
from comfort import contract
from comfort.choices import OPEN_STATES, CommandState, DeviceKind, ZoneBasis
from labs import privacy, topics
from labs.models import Person, Site, Zone
from labs.privacy import Category, LegalBasis, PersonalData, Purpose
from labs.topics import Publish

HEIGHT_VALIDATORS = [MinValueValidator(contract.DESK_HEIGHT_MM[0]), MaxValueValidator(contract.DESK_HEIGHT_MM[1])]


def validate_setpoint_step(value: Decimal) -> None:
    if value is not None and Decimal(value) % contract.SETPOINT_STEP_C:
        raise ValidationError(
            gettext("Use steps of %(step)s °C.") % {"step": formats.localize(contract.SETPOINT_STEP_C)},
            code="setpoint_step",
        )


class Preference(models.Model):
    """A person's office preferences: desk heights, temperature and fan speed, applied where they check in."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="comfort_preference", verbose_name=gettext_lazy("person")
    )
    desk_sit_height_mm = models.PositiveSmallIntegerField(
        default=720, validators=HEIGHT_VALIDATORS, verbose_name=gettext_lazy("desk sit height mm")
    )
    desk_stand_height_mm = models.PositiveSmallIntegerField(
        default=1100, validators=HEIGHT_VALIDATORS, verbose_name=gettext_lazy("desk stand height mm")
    )
    temperature_c = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        default=Decimal("22.0"),
        validators=[
            MinValueValidator(contract.SETPOINT_C[0]),
            MaxValueValidator(contract.SETPOINT_C[1]),
            validate_setpoint_step,
        ],
        verbose_name=gettext_lazy("temperature c"),
    )
    fan_speed_pct = models.PositiveSmallIntegerField(
        default=40,
        validators=[MinValueValidator(contract.FAN_SPEED_PCT[0]), MaxValueValidator(100)],
        verbose_name=gettext_lazy("fan speed pct"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=gettext_lazy("updated at"))

    class Meta:
        verbose_name = gettext_lazy("preference")
        verbose_name_plural = gettext_lazy("preferences")
        constraints = [
            models.CheckConstraint(
                condition=Q(desk_sit_height_mm__gte=620, desk_sit_height_mm__lte=1270)
                & Q(desk_stand_height_mm__gte=620, desk_stand_height_mm__lte=1270),
                name="preference_desk_heights_in_range",
                violation_error_message=gettext_lazy("Desk heights are between 620 and 1270 mm."),
            ),
            models.CheckConstraint(
                condition=Q(temperature_c__gte=16, temperature_c__lte=30),
                name="preference_temperature_in_range",
                violation_error_message=gettext_lazy("The temperature is between 16.0 and 30.0 °C."),
            ),
            models.CheckConstraint(
                condition=Q(fan_speed_pct__lte=100),
                name="preference_fan_speed_in_range",
                violation_error_message=gettext_lazy("The fan speed is between 0 and 100 %%."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("preferences of person %(id)s") % {"id": self.person_id}

    def clean(self) -> None:
        if (
            self.desk_sit_height_mm is not None
            and self.desk_stand_height_mm is not None
            and self.desk_sit_height_mm > self.desk_stand_height_mm
        ):
            raise ValidationError(
                {"desk_stand_height_mm": gettext_lazy("The standing height cannot be below the sitting height.")},
                code="stand_below_sit",
            )


class Device(models.Model):
    """A desk frame, an HVAC zone or a fan; ``device_id`` is also its MQTT client id and username."""

    device_id = models.SlugField(max_length=64, unique=True, verbose_name=gettext_lazy("device ID"))
    kind = models.CharField(max_length=8, choices=DeviceKind.choices, verbose_name=gettext_lazy("kind"))
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="comfort_devices", verbose_name=gettext_lazy("site")
    )
    desk = models.ForeignKey(
        Desk,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="comfort_devices",
        verbose_name=gettext_lazy("desk"),
    )
    zone = models.ForeignKey(
        Zone,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="comfort_devices",
        verbose_name=gettext_lazy("zone"),
    )
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))
    online = models.BooleanField(default=False, verbose_name=gettext_lazy("online"))
    last_seen_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last seen at"))
    desired_version = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("desired version"))
    desired = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("desired"))
    reported_version = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("reported version"))
    reported = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("reported"))
    reported_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("reported at"))
    telemetry = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("telemetry"))
    telemetry_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("telemetry at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("device")
        verbose_name_plural = gettext_lazy("devices")
        ordering = ["site", "kind", "device_id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=DeviceKind.DESK) & Q(desk__isnull=False))
                | (Q(kind__in=[DeviceKind.HVAC, DeviceKind.FAN]) & Q(zone__isnull=False)),
                name="device_desk_or_zone_by_kind",
                violation_error_message=gettext_lazy(
                    "A desk device belongs to a desk; HVAC and fans belong to a zone."
                ),
            ),
            models.UniqueConstraint(
                fields=["desk"],
                condition=Q(kind=DeviceKind.DESK, is_active=True),
                name="device_one_active_frame_per_desk",
                violation_error_message=gettext_lazy("This desk already has an active desk device."),
            ),
            models.UniqueConstraint(
                fields=["zone", "kind"],
                condition=Q(kind__in=[DeviceKind.HVAC, DeviceKind.FAN], is_active=True),
                name="device_one_active_hvac_and_fan_per_zone",
                violation_error_message=gettext_lazy("This zone already has an active device of that kind."),
            ),
        ]

    def __str__(self) -> str:
        return self.device_id

    def topic(self, leaf: str) -> str:
        return topics.topic(self.site.slug, self.kind, self.device_id, leaf)

    def clean(self) -> None:
        if self.desk_id and self.kind == DeviceKind.DESK:
            if self.desk.site_id != self.site_id:
                raise ValidationError({"desk": gettext_lazy("The desk is at another site.")}, code="site_mismatch")
            self.zone = self.desk.zone
        if self.zone_id and self.zone.floor.site_id != self.site_id:
            raise ValidationError({"zone": gettext_lazy("The zone is at another site.")}, code="site_mismatch")


class Command(models.Model):
    """One desired version of one device, as sent to it, and how far it got (a timestamp per hop)."""

    cmd_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=gettext_lazy("cmd ID"))
    # No index of its own: the unique (device, version) leads with it (see Meta.indexes).
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="commands", db_index=False, verbose_name=gettext_lazy("device")
    )
    version = models.PositiveIntegerField(verbose_name=gettext_lazy("version"))
    desired = models.JSONField(verbose_name=gettext_lazy("desired"))
    reason = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("reason"))
    acts_for = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="comfort_commands",
        db_index=False,
        verbose_name=gettext_lazy("acts for"),
    )
    state = models.CharField(
        max_length=12, choices=CommandState.choices, default=CommandState.QUEUED, verbose_name=gettext_lazy("state")
    )
    issued_at = models.DateTimeField(verbose_name=gettext_lazy("issued at"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("valid until"))
    deadline_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the device must have answered (or progressed) before a retry."),
        verbose_name=gettext_lazy("deadline at"),
    )
    attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text=gettext_lazy("Publications acknowledged by the broker."),
        verbose_name=gettext_lazy("attempts"),
    )
    progress = models.FloatField(null=True, blank=True, verbose_name=gettext_lazy("progress"))
    result_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=gettext_lazy("result code"))
    result_detail = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("result detail"))
    result_reported = models.JSONField(null=True, blank=True, verbose_name=gettext_lazy("result reported"))
    # one timestamp per hop
    queued_at = models.DateTimeField(verbose_name=gettext_lazy("queued at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("sent at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("delivered at"))
    in_progress_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("in progress at"))
    applied_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("applied at"))
    rejected_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("rejected at"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("failed at"))
    timed_out_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("timed out at"))
    expired_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("expired at"))
    superseded_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("superseded at"))

    class Meta:
        verbose_name = gettext_lazy("command")
        verbose_name_plural = gettext_lazy("commands")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "version"],
                name="command_one_per_device_version",
                violation_error_message=gettext_lazy("This device already has a command for that version."),
            ),
        ]
        # Every command row is written three times or more (queued, sent, applied), and a write that changes the
        # state changes a column an index depends on, so each new row version gets an entry in every index that
        # covers it. The indexes cover what is looked up and no more: open commands (a few per device at most)
        # by deadline and validity; the commands that act for somebody (check-ins, not a site's fan-out); by
        # device through the unique (device, version). A fan-out of 10,000 writes 13 index entries a command
        # instead of 20 (docs/scaling.md, "Ninth session").
        indexes = [
            models.Index(fields=["deadline_at"], condition=Q(state__in=OPEN_STATES), name="command_open_deadline_idx"),
            models.Index(fields=["valid_until"], condition=Q(state__in=OPEN_STATES), name="command_open_valid_idx"),
            models.Index(fields=["acts_for"], condition=Q(acts_for__isnull=False), name="command_acts_for_idx"),
        ]

    def __str__(self) -> str:
        # The device's own id (cph-desk-1a-01), not its row id: the admin loads the device with the command.
        return f"{self.device.device_id} v{self.version} {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def desired_message(self, device: Device | None = None) -> Publish:
        """The retained ``desired`` message of this version (``device``: the loaded device, saving a query)."""
        device = device or self.device
        return Publish(device.topic("desired"), self.document(), qos=1, retain=True)

    def document(self) -> dict:
        """The retained ``desired`` document of MQTT.md."""
        return {
            "v": self.version,
            "cmd_id": str(self.cmd_id),
            "desired": self.desired,
            "reason": self.reason,
            "issued_at": contract.iso(self.issued_at),
            "valid_until": contract.iso(self.valid_until),
        }


class ZoneDecision(models.Model):
    """A zone's arbitrated setpoint and fan speed at one moment, and why (inputs, method, clamps)."""

    zone = models.ForeignKey(
        Zone, on_delete=models.CASCADE, related_name="comfort_decisions", verbose_name=gettext_lazy("zone")
    )
    basis = models.CharField(max_length=12, choices=ZoneBasis.choices, verbose_name=gettext_lazy("basis"))
    setpoint_c = models.DecimalField(max_digits=3, decimal_places=1, verbose_name=gettext_lazy("setpoint c"))
    fan_on = models.BooleanField(verbose_name=gettext_lazy("fan on"))
    fan_speed_pct = models.PositiveSmallIntegerField(verbose_name=gettext_lazy("fan speed pct"))
    reasons = models.JSONField(default=dict, verbose_name=gettext_lazy("reasons"))
    decided_at = models.DateTimeField(verbose_name=gettext_lazy("decided at"))

    class Meta:
        verbose_name = gettext_lazy("zone decision")
        verbose_name_plural = gettext_lazy("zone decisions")
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["zone", "-decided_at"], name="zonedecision_zone_recent_idx")]

    def __str__(self) -> str:
        return f"{self.zone_id}: {self.setpoint_c} °C ({self.get_basis_display()})"


_PREFERENCES = PersonalData(
    Category.OFFICE_PREFERENCES,
    (Purpose.TAILOR_WORKSPACE,),
    LegalBasis.CONTRACT,
    "while the membership or contract lasts, then deleted within 30 days",
    30,
)
_APPLIED = PersonalData(
    Category.OFFICE_PREFERENCES,
    (Purpose.TAILOR_WORKSPACE,),
    LegalBasis.CONTRACT,
    "a preference as applied to a device; commands and zone decisions are deleted 30 days after they end",
    30,
)
privacy.declare(
    Preference,
    desk_sit_height_mm=_PREFERENCES,
    desk_stand_height_mm=_PREFERENCES,
    temperature_c=_PREFERENCES,
    fan_speed_pct=_PREFERENCES,
)
privacy.declare(Command, desired=_APPLIED, result_reported=_APPLIED, reason=_APPLIED)
privacy.declare(ZoneDecision, reasons=_APPLIED)
privacy.declare(
    Device,
    desired=PersonalData(
        Category.OFFICE_PREFERENCES,
        (Purpose.TAILOR_WORKSPACE,),
        LegalBasis.CONTRACT,
        "the device's current target; replaced by the default at check-out",
        0,
    ),
    reported=PersonalData(
        Category.OFFICE_PREFERENCES,
        (Purpose.TAILOR_WORKSPACE,),
        LegalBasis.CONTRACT,
        "the device's current state; replaced when the device reports again",
        0,
    ),
)
privacy.not_personal(
    Command,
    result_detail="a device's error text, e.g. 'height_mm out of range'",
    result_code="the device's answer code (200, 202, 409...)",
)
