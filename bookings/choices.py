from django.db import models
from django.utils.translation import gettext_lazy, pgettext_lazy


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
    PORTAL = "portal", gettext_lazy("Portal")
    API = "api", gettext_lazy("API")
    STAFF = "staff", gettext_lazy("Staff on someone's behalf")
    RECURRENCE = "recurrence", gettext_lazy("Recurring series")
    WALK_IN = "walk_in", gettext_lazy("Walk-in check-in at a desk")
    GOOGLE = "google", gettext_lazy("Google Calendar")
    MICROSOFT = "microsoft", gettext_lazy("Microsoft 365")
    IMPORT = "import", gettext_lazy("Imported history")


class CheckInVia(models.TextChoices):
    """The door a check-in came through (analytics count occupancy from every one)."""

    BOOKING = "booking", gettext_lazy("The booking's check-in (API or portal)")
    DESK = "desk", gettext_lazy("Check-in at the desk (comfort)")
    BADGE = "badge", gettext_lazy("Badge scan at the site")
    DESK_PRESENCE = "desk_presence", gettext_lazy("Presence sensed at the desk")


class SeriesStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("a booking series", "Active")
    CANCELLED = "cancelled", gettext_lazy("Cancelled")
    ENDED_NO_SHOW = "ended_no_show", gettext_lazy("Ended after repeated no-shows")


class CancelScope(models.TextChoices):
    ONE = "one", gettext_lazy("This occurrence")
    FOLLOWING = "following", gettext_lazy("This and following occurrences")
    ALL = "all", gettext_lazy("The whole series")


class SizeBand(models.TextChoices):
    """Meeting and room sizes, in people: the bands analytics reports in (docs/analytics.md)."""

    XS = "1-2", gettext_lazy("1-2 people")
    S = "3-4", gettext_lazy("3-4 people")
    M = "5-8", gettext_lazy("5-8 people")
    L = "9+", gettext_lazy("9 or more people")


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

    CONFLICT = "conflict", gettext_lazy("Refused: the room was taken")
    RULE = "rule", gettext_lazy("Refused by a booking rule")
    EMPTY_SEARCH = "empty_search", gettext_lazy("A room search found no room")


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
