from django.db import models
from django.utils.translation import gettext_lazy


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed", gettext_lazy("Confirmed")
    CHECKED_IN = "checked_in", gettext_lazy("Checked in")
    COMPLETED = "completed", gettext_lazy("Completed")
    CANCELLED = "cancelled", gettext_lazy("Cancelled")
    RELEASED = "released", gettext_lazy("Released (not checked in)")


# Statuses that hold the room or desk: the database refuses two of these overlapping on one resource.
HOLDING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED)
# Statuses that can still change (check in, cancel, move).
OPEN_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


class BookingSource(models.TextChoices):
    PORTAL = "portal", "Portal"
    API = "api", "API"
    STAFF = "staff", "Staff on someone's behalf"
    RECURRENCE = "recurrence", "Recurring series"
    WALK_IN = "walk_in", "Walk-in check-in at a desk"
    GOOGLE = "google", "Google Calendar"
    MICROSOFT = "microsoft", "Microsoft 365"
    IMPORT = "import", "Imported history"


class CheckInVia(models.TextChoices):
    """The door a check-in came through (analytics count occupancy from every one)."""

    BOOKING = "booking", "The booking's check-in (API or portal)"
    DESK = "desk", "Check-in at the desk (comfort)"
    BADGE = "badge", "Badge scan at the site"
    DESK_PRESENCE = "desk_presence", "Presence sensed at the desk"


class SeriesStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CANCELLED = "cancelled", "Cancelled"
    ENDED_NO_SHOW = "ended_no_show", "Ended after repeated no-shows"


class CancelScope(models.TextChoices):
    ONE = "one", "This occurrence"
    FOLLOWING = "following", "This and following occurrences"
    ALL = "all", "The whole series"


class SizeBand(models.TextChoices):
    """Meeting and room sizes, in people: the bands analytics reports in (docs/analytics.md)."""

    XS = "1-2", "1-2 people"
    S = "3-4", "3-4 people"
    M = "5-8", "5-8 people"
    L = "9+", "9 or more people"


def size_band(people: int) -> str:
    """The band of a meeting of ``people`` (or of a room seating that many)."""
    if people <= 2:
        return SizeBand.XS
    if people <= 4:
        return SizeBand.S
    if people <= 8:
        return SizeBand.M
    return SizeBand.L


class DemandKind(models.TextChoices):
    """Why a wish for a room went unmet."""

    CONFLICT = "conflict", "Refused: the room was taken"
    RULE = "rule", "Refused by a booking rule"
    EMPTY_SEARCH = "empty_search", "A room search found no room"


# Names of the usual amenities as people read them, per language; an operator's own amenity shows as written.
AMENITY_LABELS = {
    "screen": gettext_lazy("Screen"),
    "video": gettext_lazy("Video"),
    "projector": gettext_lazy("Projector"),
    "whiteboard": gettext_lazy("Whiteboard"),
    "phone": gettext_lazy("Phone"),
    "stage": gettext_lazy("Stage"),
    "monitor": gettext_lazy("Monitor"),
    "standing": gettext_lazy("Standing desk"),
    "dock": gettext_lazy("Docking station"),
}


def amenity_label(key: str) -> str:
    """``screen`` -> "Screen" ("Skærm" in Danish); an amenity without a label is shown capitalised."""
    return str(AMENITY_LABELS.get(key, key.replace("_", " ").capitalize()))
