from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceKind(models.TextChoices):
    DESK = "desk", _("Height-adjustable desk")
    HVAC = "hvac", _("HVAC zone")
    FAN = "fan", _("Fan")


class CommandState(models.TextChoices):
    """One command per desired version; MQTT.md names these states."""

    QUEUED = "queued", "Queued (in the outbox)"
    SENT = "sent", "Sent (the broker acknowledged it)"
    DELIVERED = "delivered", "Delivered (the device answered)"
    IN_PROGRESS = "in_progress", "In progress"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected by the device"
    FAILED = "failed", "Failed on the device"
    TIMED_OUT = "timed_out", "Timed out"
    EXPIRED = "expired", "Expired (past valid_until)"
    SUPERSEDED = "superseded", "Superseded by a newer version"


OPEN_STATES = (CommandState.QUEUED, CommandState.SENT, CommandState.DELIVERED, CommandState.IN_PROGRESS)
FINAL_STATES = tuple(s for s in CommandState if s not in OPEN_STATES)


class ZoneBasis(models.TextChoices):
    POLICY = "policy", "The zone's policy (nobody checked in)"
    OCCUPANTS = "occupants", "The preferences of the people checked in"
