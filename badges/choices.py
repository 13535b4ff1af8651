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
    QR = "qr", "QR code"
    CARD = "card", "Card UID"


class Channel(models.TextChoices):
    HTTP = "http", "HTTP"
    MQTT = "mqtt", "MQTT"


class Reason(models.TextChoices):
    """Why a scan was allowed or denied: the stable codes readers show (docs/badges.md)."""

    OK = "ok", "Allowed"
    UNKNOWN = "unknown", "Unknown credential"
    REVOKED = "revoked", "Badge revoked"
    EXPIRED = "expired", "Badge or code expired"
    SUSPENDED = "suspended", "Badge suspended"
    NOT_YET_VALID = "not_yet_valid", "Badge not yet valid"
    OUTSIDE_HOURS = "outside_hours", "Outside the door's hours"
    WRONG_DOOR = "wrong_door", "Not allowed at this door"
    REPLAYED = "replayed", "Code already used at this reader"
    UNKNOWN_READER = "unknown_reader", "Unknown or disabled reader"


class Weekday(models.IntegerChoices):
    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 7, "Sunday"
