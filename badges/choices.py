from django.db import models
from django.utils.translation import gettext_lazy as _


class BadgeKind(models.TextChoices):
    DIGITAL = "digital", _("Digital (rotating QR code)")
    CARD = "card", _("Physical card")


class BadgeStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


# Statuses a badge can still come back from; revoked and expired are final.
LIVE_STATUSES = (BadgeStatus.ACTIVE, BadgeStatus.SUSPENDED)


class CredentialType(models.TextChoices):
    QR = "qr", _("QR code")
    CARD = "card", _("Card UID")


class Channel(models.TextChoices):
    HTTP = "http", _("HTTP")
    MQTT = "mqtt", _("MQTT")


class Reason(models.TextChoices):
    """Why a scan was allowed or denied: the stable codes readers show (docs/badges.md)."""

    OK = "ok", _("Allowed")
    UNKNOWN = "unknown", _("Unknown credential")
    REVOKED = "revoked", _("Badge revoked")
    EXPIRED = "expired", _("Badge or code expired")
    SUSPENDED = "suspended", _("Badge suspended")
    NOT_YET_VALID = "not_yet_valid", _("Badge not yet valid")
    OUTSIDE_HOURS = "outside_hours", _("Outside the door's hours")
    WRONG_DOOR = "wrong_door", _("Not allowed at this door")
    REPLAYED = "replayed", _("Code already used at this reader")
    UNKNOWN_READER = "unknown_reader", _("Unknown or disabled reader")


class Weekday(models.IntegerChoices):
    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")
    SUNDAY = 7, _("Sunday")
