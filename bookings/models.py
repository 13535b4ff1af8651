"""Bookable resources (rooms, desks), the rules that govern booking them, and bookings.

No two bookings that hold a resource may overlap. On PostgreSQL three exclusion constraints (migration 0003, with
btree_gist) enforce it: one room, one desk, and one desk per person at a time. They are created by a migration that
runs only on PostgreSQL and are deliberately absent from ``Meta.constraints`` (an ``EXCLUDE USING gist`` cannot exist
on SQLite and ``full_clean()`` must not try to validate it there); on SQLite the same check runs inside an IMMEDIATE
transaction in :mod:`bookings.services`. See docs/bookings.md.
"""

from __future__ import annotations

import uuid
from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from bookings.choices import (
    HOLDING_STATUSES,
    BookingSource,
    BookingStatus,
    CheckInVia,
    DemandKind,
    SeriesStatus,
    SizeBand,
)
from labs import privacy
from labs.models import Company, Floor, Person, Site, Zone
from labs.privacy import Category, LegalBasis, PersonalData, Purpose
from labs.validators import validate_single_line

MAX_ATTENDEES = 200


def _validate_amenities(value) -> None:
    if not isinstance(value, list) or not all(isinstance(a, str) and 0 < len(a) <= 40 for a in value):
        raise ValidationError(gettext_lazy("Amenities are a list of short names."), code="invalid_amenities")


class BookingPolicy(models.Model):
    """A site's booking rules; a room may override each of them (its fields of the same name)."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, related_name="booking_policy", verbose_name=gettext_lazy("site")
    )
    opens_at = models.TimeField(
        default=time(7, 0),
        help_text=gettext_lazy("Bookable from this local time."),
        verbose_name=gettext_lazy("opens at"),
    )
    closes_at = models.TimeField(
        default=time(20, 0),
        help_text=gettext_lazy("Bookable until this local time."),
        verbose_name=gettext_lazy("closes at"),
    )
    min_duration_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1)], verbose_name=gettext_lazy("min duration minutes")
    )
    max_duration_minutes = models.PositiveIntegerField(
        default=8 * 60, validators=[MinValueValidator(1)], verbose_name=gettext_lazy("max duration minutes")
    )
    max_days_ahead = models.PositiveIntegerField(
        default=180,
        help_text=gettext_lazy("How far ahead a booking may start."),
        verbose_name=gettext_lazy("max days ahead"),
    )
    min_notice_minutes = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("How soon before its start one may book."),
        verbose_name=gettext_lazy("min notice minutes"),
    )
    company_weekly_room_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=gettext_lazy("Hours of room bookings a company may hold per local week; empty: no quota."),
        verbose_name=gettext_lazy("company weekly room hours"),
    )

    class Meta:
        verbose_name = gettext_lazy("booking policy")
        verbose_name_plural = gettext_lazy("booking policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")),
                name="booking_policy_opens_before_it_closes",
                violation_error_message=gettext_lazy("The bookable hours must open before they close."),
            ),
            models.CheckConstraint(
                condition=Q(max_duration_minutes__gte=F("min_duration_minutes")),
                name="booking_policy_max_duration_at_least_min",
                violation_error_message=gettext_lazy("The maximum duration must be at least the minimum."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("Booking policy of %(site)s") % {"site": self.site}


class Room(models.Model):
    """A conference room that people book by the hour; empty rule fields fall back to the site's policy."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms", verbose_name=gettext_lazy("site"))
    floor = models.ForeignKey(Floor, on_delete=models.PROTECT, related_name="rooms", verbose_name=gettext_lazy("floor"))
    name = models.CharField(max_length=120, validators=[validate_single_line], verbose_name=gettext_lazy("name"))
    capacity = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1)], verbose_name=gettext_lazy("capacity")
    )
    amenities = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_amenities],
        help_text=gettext_lazy('e.g. ["screen", "video", "whiteboard"]'),
        verbose_name=gettext_lazy("amenities"),
    )
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))
    # Rules: empty means the site's BookingPolicy applies.
    opens_at = models.TimeField(null=True, blank=True, verbose_name=gettext_lazy("opens at"))
    closes_at = models.TimeField(null=True, blank=True, verbose_name=gettext_lazy("closes at"))
    min_duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], verbose_name=gettext_lazy("min duration minutes")
    )
    max_duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], verbose_name=gettext_lazy("max duration minutes")
    )
    max_days_ahead = models.PositiveIntegerField(null=True, blank=True, verbose_name=gettext_lazy("max days ahead"))
    min_notice_minutes = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=gettext_lazy("min notice minutes")
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(240)],
        help_text=gettext_lazy("Turnaround after each booking: the room stays held this long after a booking ends."),
        verbose_name=gettext_lazy("buffer minutes"),
    )
    plan_x = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=gettext_lazy(
            "Where it sits on its floor's plan: percent of the plan's width from the left; empty: not placed."
        ),
        verbose_name=gettext_lazy("plan x"),
    )
    plan_y = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=gettext_lazy("Percent of the plan's height from the top."),
        verbose_name=gettext_lazy("plan y"),
    )
    # Calendar resources, filled in by calendar sync (bookings/calendars/).
    google_calendar_id = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("google calendar ID"))
    microsoft_resource_email = models.EmailField(blank=True, verbose_name=gettext_lazy("microsoft resource email"))

    class Meta:
        verbose_name = gettext_lazy("room")
        verbose_name_plural = gettext_lazy("rooms")
        ordering = ["site", "floor", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="room_unique_name_per_site",
                violation_error_message=gettext_lazy("This site already has a room with that name."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.capacity})"

    def clean(self) -> None:
        if self.floor_id and self.site_id and self.floor.site_id != self.site_id:
            raise ValidationError({"floor": gettext_lazy("The floor is at another site.")}, code="floor_site_mismatch")
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": gettext_lazy("Must be after opens_at.")}, code="hours_inverted")


class Desk(models.Model):
    """A desk in a zone; its height-adjustable frame and the zone's HVAC are comfort devices."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="desks", verbose_name=gettext_lazy("site"))
    floor = models.ForeignKey(Floor, on_delete=models.PROTECT, related_name="desks", verbose_name=gettext_lazy("floor"))
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="desks", verbose_name=gettext_lazy("zone"))
    label = models.CharField(max_length=40, validators=[validate_single_line], verbose_name=gettext_lazy("label"))
    is_active = models.BooleanField(default=True, verbose_name=gettext_lazy("is active"))
    amenities = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_amenities],
        help_text=gettext_lazy('e.g. ["monitor", "standing"]'),
        verbose_name=gettext_lazy("amenities"),
    )
    plan_x = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=gettext_lazy(
            "Where it sits on its floor's plan: percent of the plan's width from the left; empty: not placed."
        ),
        verbose_name=gettext_lazy("plan x"),
    )
    plan_y = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=gettext_lazy("Percent of the plan's height from the top."),
        verbose_name=gettext_lazy("plan y"),
    )

    class Meta:
        verbose_name = gettext_lazy("desk")
        verbose_name_plural = gettext_lazy("desks")
        ordering = ["site", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "label"],
                name="desk_unique_label_per_site",
                violation_error_message=gettext_lazy("This site already has a desk with that label."),
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.zone_id and self.floor_id and self.zone.floor_id != self.floor_id:
            raise ValidationError({"zone": gettext_lazy("The zone is on another floor.")}, code="zone_floor_mismatch")
        if self.floor_id and self.site_id and self.floor.site_id != self.site_id:
            raise ValidationError({"floor": gettext_lazy("The floor is at another site.")}, code="floor_site_mismatch")


class BookingSeries(models.Model):
    """A recurring booking: an RFC 5545 RRULE expanded in the site's time zone into stored occurrences."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=gettext_lazy("UID"))
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="booking_series", verbose_name=gettext_lazy("site")
    )
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="series", verbose_name=gettext_lazy("room")
    )
    desk = models.ForeignKey(
        Desk, on_delete=models.PROTECT, null=True, blank=True, related_name="series", verbose_name=gettext_lazy("desk")
    )
    organiser = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="booking_series", verbose_name=gettext_lazy("organiser")
    )
    created_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("created by"),
    )
    title = models.CharField(
        max_length=200, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("title")
    )
    attendees = models.JSONField(default=list, blank=True, verbose_name=gettext_lazy("attendees"))
    rrule = models.CharField(
        max_length=500,
        help_text=gettext_lazy("RFC 5545 RRULE, e.g. FREQ=WEEKLY;COUNT=10"),
        verbose_name=gettext_lazy("RRULE"),
    )
    first_start = models.DateTimeField(
        help_text=gettext_lazy("Start of the first occurrence (UTC); its local time repeats."),
        verbose_name=gettext_lazy("first start"),
    )
    duration_minutes = models.PositiveIntegerField(verbose_name=gettext_lazy("duration minutes"))
    timezone = models.CharField(
        max_length=64,
        help_text=gettext_lazy("The site's zone the rule was expanded in."),
        verbose_name=gettext_lazy("timezone"),
    )
    status = models.CharField(
        max_length=20, choices=SeriesStatus.choices, default=SeriesStatus.ACTIVE, verbose_name=gettext_lazy("status")
    )
    ended_notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When the organiser was told the series ended after no-shows (sent once)."),
        verbose_name=gettext_lazy("ended notified at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("booking series")
        ordering = ["-created_at"]
        verbose_name_plural = pgettext_lazy("plural", "booking series")
        constraints = [
            models.CheckConstraint(
                condition=Q(room__isnull=False, desk__isnull=True) | Q(room__isnull=True, desk__isnull=False),
                name="booking_series_one_resource",
                violation_error_message=gettext_lazy("A series books either a room or a desk."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(rule)s from %(start)s") % {
            "rule": self.rrule,
            "start": f"{timezone.localtime(self.first_start):%Y-%m-%d %H:%M}",
        }


class Booking(models.Model):
    """One booking of a room or a desk for a half-open interval [start, end), stored in UTC.

    ``hold_end`` is ``end`` plus the room's buffer: the resource is held over [start, hold_end). Holding statuses
    (confirmed, checked in, completed) may never overlap on one room, one desk, or one person's desks; on PostgreSQL
    exclusion constraints enforce this (see the module docstring).
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=gettext_lazy("UID"))
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="bookings", db_index=False, verbose_name=gettext_lazy("site")
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
        db_index=False,
        verbose_name=gettext_lazy("room"),
    )
    desk = models.ForeignKey(
        Desk,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
        db_index=False,
        verbose_name=gettext_lazy("desk"),
    )
    organiser = models.ForeignKey(
        Person,
        on_delete=models.CASCADE,
        related_name="bookings",
        db_index=False,
        verbose_name=gettext_lazy("organiser"),
    )
    company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
        db_index=False,
        help_text=gettext_lazy("The organiser's company when booked, for quotas."),
        verbose_name=gettext_lazy("company"),
    )
    created_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("created by"),
    )
    title = models.CharField(
        max_length=200, blank=True, validators=[validate_single_line], verbose_name=gettext_lazy("title")
    )
    attendees = models.JSONField(
        default=list,
        blank=True,
        help_text=gettext_lazy("E-mail addresses of invited people."),
        verbose_name=gettext_lazy("attendees"),
    )
    attendee_count = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=gettext_lazy(
            "How many people besides the organiser, when known only as a number (imported history); "
            "empty: the attendees' e-mail addresses count."
        ),
        verbose_name=gettext_lazy("attendee count"),
    )
    start = models.DateTimeField(verbose_name=gettext_lazy("start"))
    end = models.DateTimeField(verbose_name=gettext_lazy("end"))
    hold_end = models.DateTimeField(
        help_text=gettext_lazy("end + the room's buffer: the resource is held until then."),
        verbose_name=gettext_lazy("hold end"),
    )
    status = models.CharField(
        max_length=20,
        choices=BookingStatus.choices,
        default=BookingStatus.CONFIRMED,
        verbose_name=gettext_lazy("status"),
    )
    source = models.CharField(
        max_length=20, choices=BookingSource.choices, default=BookingSource.API, verbose_name=gettext_lazy("source")
    )
    series = models.ForeignKey(
        BookingSeries,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="occurrences",
        db_index=False,
        verbose_name=gettext_lazy("series"),
    )
    recurrence_id = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("The occurrence's original start."),
        verbose_name=gettext_lazy("recurrence ID"),
    )
    is_moved = models.BooleanField(
        default=False,
        help_text=gettext_lazy("An occurrence re-timed away from its rule."),
        verbose_name=gettext_lazy("is moved"),
    )
    checked_in_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("checked in at"))
    checked_in_via = models.CharField(
        max_length=16, choices=CheckInVia.choices, blank=True, verbose_name=gettext_lazy("checked in via")
    )
    released_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("released at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("cancelled at"))
    override_reason = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_single_line],
        help_text=gettext_lazy("Why staff overrode the booking rules."),
        verbose_name=gettext_lazy("override reason"),
    )
    sequence = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("iCalendar SEQUENCE: bumped on every re-time or cancel."),
        verbose_name=gettext_lazy("sequence"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=gettext_lazy("updated at"))

    class Meta:
        verbose_name = gettext_lazy("booking")
        verbose_name_plural = gettext_lazy("bookings")
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(room__isnull=False, desk__isnull=True) | Q(room__isnull=True, desk__isnull=False),
                name="booking_one_resource",
                violation_error_message=gettext_lazy("A booking is of either a room or a desk."),
            ),
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="booking_ends_after_start",
                violation_error_message=gettext_lazy("A booking must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(hold_end__gte=F("end")),
                name="booking_hold_covers_booking",
                violation_error_message=gettext_lazy("The held interval must cover the booking."),
            ),
        ]
        indexes = [
            # "Does anything overlap [s, e) on this room?" reads only bookings ending after s: history never slows it.
            models.Index(fields=["room", "hold_end", "start"], name="booking_room_hold_end_idx"),
            models.Index(fields=["desk", "hold_end", "start"], name="booking_desk_hold_end_idx"),
            models.Index(fields=["organiser", "start"], name="booking_organiser_start_idx"),
            models.Index(fields=["site", "start"], name="booking_site_start_idx"),
            models.Index(fields=["series", "start"], name="booking_series_start_idx"),
            models.Index(fields=["company", "start"], name="booking_company_start_idx"),
            models.Index(
                fields=["start"], name="booking_unchecked_start_idx", condition=Q(status=BookingStatus.CONFIRMED)
            ),
        ]

    def __str__(self) -> str:
        # In the zone the request shows times in (the admin's: the staff's site zone), as every other time on a page.
        start, end = timezone.localtime(self.start), timezone.localtime(self.end)
        return f"{self.resource} {start:%Y-%m-%d %H:%M}-{end:%H:%M} ({self.get_status_display()})"

    @property
    def resource(self) -> Room | Desk | None:
        return self.room or self.desk

    @property
    def is_holding(self) -> bool:
        return self.status in HOLDING_STATUSES

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError(
                {"end": gettext_lazy("A booking must end after it starts.")}, code="ends_before_start"
            )
        if not isinstance(self.attendees, list) or len(self.attendees) > MAX_ATTENDEES:
            raise ValidationError(
                {"attendees": gettext("At most %(count)s e-mail addresses.") % {"count": MAX_ATTENDEES}},
                code="attendees",
            )


class DemandSignal(models.Model):
    """Unmet demand for rooms, counted where it happens and kept without any person: per site, local day and hour
    (of the start wanted), meeting size band and kind (a refused booking attempt, or a room search that found
    nothing). Analytics reads it as ``unmet_demand`` (docs/analytics.md)."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="demand_signals", verbose_name=gettext_lazy("site")
    )
    day = models.DateField(
        help_text=gettext_lazy("The local date of the start wanted."), verbose_name=gettext_lazy("day")
    )
    hour = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(23)],
        help_text=gettext_lazy("Its local hour (0-23)."),
        verbose_name=gettext_lazy("hour"),
    )
    size_band = models.CharField(max_length=8, choices=SizeBand.choices, verbose_name=gettext_lazy("size band"))
    kind = models.CharField(max_length=16, choices=DemandKind.choices, verbose_name=gettext_lazy("kind"))
    count = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("count"))

    class Meta:
        verbose_name = gettext_lazy("demand signal")
        verbose_name_plural = gettext_lazy("demand signals")
        ordering = ["site", "day", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "day", "hour", "size_band", "kind"], name="demand_signal_one_row_per_bucket"
            ),
        ]

    def __str__(self) -> str:
        band, kind = self.get_size_band_display(), self.get_kind_display()
        return f"{self.site_id} {self.day} {self.hour:02d}h {band} {kind}: {self.count}"


class Closure(models.Model):
    """A local day on which a site's rooms and desks cannot be booked (a holiday, works; rule ``closed`` in
    bookings.services.rules, staff may override it with a reason): not bookable in analytics."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures", verbose_name=gettext_lazy("site"))
    day = models.DateField(verbose_name=gettext_lazy("day"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=gettext_lazy("reason"))

    class Meta:
        verbose_name = gettext_lazy("closure")
        verbose_name_plural = gettext_lazy("closures")
        ordering = ["site", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "day"],
                name="closure_one_per_site_day",
                violation_error_message=gettext_lazy("This site is already closed that day."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(site)s closed %(day)s") % {"site": self.site, "day": self.day}


class CalendarFeed(models.Model):
    """A person's private iCalendar feed: its URL carries a random token of which only a SHA-256 digest is kept."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="calendar_feed", verbose_name=gettext_lazy("person")
    )
    token_digest = models.CharField(max_length=64, unique=True, verbose_name=gettext_lazy("token digest"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last used at"))

    class Meta:
        verbose_name = gettext_lazy("calendar feed")
        verbose_name_plural = gettext_lazy("calendar feeds")

    def __str__(self) -> str:
        return gettext("Calendar feed of %(person)s") % {"person": self.person}


_BOOKINGS = "kept 13 months after the booking's end for utilisation analysis, then deleted"
_ATTENDEES = PersonalData(
    Category.CALENDAR,
    (Purpose.BOOK_ROOMS, Purpose.DELIVER_SERVICES),
    LegalBasis.CONTRACT,
    "until the booking ends + 30 days, then cleared",
    30,
)
_TITLE = PersonalData(
    Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, "until the booking ends + 30 days, then cleared", 30
)
privacy.not_personal(
    Room,
    name="a room's name",
    google_calendar_id="the room's resource calendar, not a person's",
    microsoft_resource_email="the room's resource mailbox, not a person's",
)
privacy.not_personal(Desk, label="a desk's label")
privacy.declare(Booking, title=_TITLE, attendees=_ATTENDEES)
privacy.declare(
    Booking,
    uid=PersonalData(Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, _BOOKINGS, 395),
    override_reason=PersonalData(Category.OTHER, (Purpose.DELIVER_SERVICES,), LegalBasis.CONTRACT, _BOOKINGS, 395),
)
privacy.declare(BookingSeries, title=_TITLE, attendees=_ATTENDEES)
privacy.declare(
    BookingSeries,
    uid=PersonalData(Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, _BOOKINGS, 395),
)
privacy.declare(
    CalendarFeed,
    token_digest=PersonalData(
        Category.CONTACT_VERIFICATION,
        (Purpose.BOOK_ROOMS, Purpose.SECURITY),
        LegalBasis.LEGITIMATE_INTEREST,  # verification data: the policy's bases are legal obligation / LI
        "a SHA-256 digest of the feed token; deleted when regenerated or with the account",
        0,
    ),
)
