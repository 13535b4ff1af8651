from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceKind(models.TextChoices):
    DESK = "desk", _("Height-adjustable desk")
    HVAC = "hvac", _("HVAC zone")
    FAN = "fan", _("Fan")


class CommandState(models.TextChoices):
    """One command per desired version; MQTT.md names these states."""

    QUEUED = "queued", _("Queued (in the outbox)")
    SENT = "sent", _("Sent (the broker acknowledged it)")
    DELIVERED = "delivered", _("Delivered (the device answered)")
    IN_PROGRESS = "in_progress", _("In progress")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected by the device")
    FAILED = "failed", _("Failed on the device")
    TIMED_OUT = "timed_out", _("Timed out")
    EXPIRED = "expired", _("Expired (past valid_until)")
    SUPERSEDED = "superseded", _("Superseded by a newer version")


OPEN_STATES = (CommandState.QUEUED, CommandState.SENT, CommandState.DELIVERED, CommandState.IN_PROGRESS)
FINAL_STATES = tuple(s for s in CommandState if s not in OPEN_STATES)


class ZoneBasis(models.TextChoices):
    POLICY = "policy", _("The zone's policy (nobody checked in)")
    OCCUPANTS = "occupants", _("The preferences of the people checked in")


# What an HVAC unit reports doing (MQTT.md: reported "action"), as people read it; another value shows as sent.
HVAC_ACTIONS = {"cooling": _("cooling"), "heating": _("heating"), "idle": _("idle")}


def hvac_action_label(action: str) -> str:
    return str(HVAC_ACTIONS.get(action, action))
