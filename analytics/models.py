"""Analytics' own tables: snapshots per room per local day and per site per local hour, the state of each day's
snapshot, and the runs that compute them. Aggregates only: no table here holds a person, an e-mail, a name, a company
or a booking id (a test dumps them and looks); figures about fewer than five people are suppressed when published
(analytics/report.py, docs/analytics.md)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from analytics.choices import RunState, RunTrigger
from bookings.choices import SizeBand
from bookings.models import Room
from labs.models import Site


class Run(models.Model):
    """One computation of a site's snapshots for the local days ``date_from``..``date_to`` (both included): nightly
    from beat or on demand; ``progress`` 0..1 while it runs; ``report`` is the period's published figures."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="analytics_runs", verbose_name=gettext_lazy("site")
    )
    date_from = models.DateField(verbose_name=gettext_lazy("date from"))
    date_to = models.DateField(verbose_name=gettext_lazy("date to"))
    trigger = models.CharField(
        max_length=16, choices=RunTrigger.choices, default=RunTrigger.ON_DEMAND, verbose_name=gettext_lazy("trigger")
    )
    state = models.CharField(
        max_length=16, choices=RunState.choices, default=RunState.QUEUED, verbose_name=gettext_lazy("state")
    )
    progress = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)], verbose_name=gettext_lazy("progress")
    )
    error = models.CharField(max_length=500, blank=True, verbose_name=gettext_lazy("error"))
    days_recomputed = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("days recomputed"))
    report = models.JSONField(null=True, blank=True, verbose_name=gettext_lazy("report"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("started at"))
    # Touched at the claim and at every step's progress: a running run whose heartbeat stops has lost its worker
    # (services.runs_sweep fails it after STALLED_AFTER, not after the whole task time limit).
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("heartbeat at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("finished at"))

    class Meta:
        verbose_name = gettext_lazy("analytics run")
        verbose_name_plural = gettext_lazy("analytics runs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "state", "-finished_at"], name="analytics_run_latest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_to__gte=models.F("date_from")),
                name="analytics_run_period_in_order",
                violation_error_message=gettext_lazy("The period must end on or after its first day."),
            ),
        ]

    def __str__(self) -> str:
        return gettext("Run %(id)s %(site)s %(start)s..%(end)s (%(state)s)") % {
            "id": self.pk,
            "site": self.site_id,
            "start": self.date_from,
            "end": self.date_to,
            "state": self.get_state_display(),
        }


class DayState(models.Model):
    """When a site's local day was last computed, and a fingerprint of its bookings then (how many, the latest
    ``updated_at``): a day is recomputed when the fingerprint changes or it was computed before it ended."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("site"))
    day = models.DateField(verbose_name=gettext_lazy("day"))
    fingerprint = models.CharField(max_length=80, verbose_name=gettext_lazy("fingerprint"))
    final = models.BooleanField(
        default=False, help_text=gettext_lazy("Computed after the day ended."), verbose_name=gettext_lazy("final")
    )
    computed_at = models.DateTimeField(verbose_name=gettext_lazy("computed at"))

    class Meta:
        verbose_name = gettext_lazy("day state")
        verbose_name_plural = gettext_lazy("day states")
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="analytics_day_state_unique")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} {gettext('final') if self.final else gettext('provisional')}"


class RoomDay(models.Model):
    """One room's figures for one local day (docs/analytics.md gives each definition). Hours are clipped to the
    room's bookable hours; counts are of bookings starting that day. ``lead_quarters`` and ``sizes`` are histograms
    (lead time in quarter hours, meeting size in people -> number of held bookings) for medians and percentiles."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("site"))
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("room"))
    day = models.DateField(verbose_name=gettext_lazy("day"))
    bookable_h = models.FloatField(default=0, verbose_name=gettext_lazy("bookable h"))
    booked_h = models.FloatField(default=0, verbose_name=gettext_lazy("booked h"))
    occupied_h = models.FloatField(default=0, verbose_name=gettext_lazy("occupied h"))
    ghost_h = models.FloatField(default=0, verbose_name=gettext_lazy("ghost h"))
    held = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Held bookings (confirmed, checked in, completed)."),
        verbose_name=gettext_lazy("held"),
    )
    started = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Bookings that required check-in and started."),
        verbose_name=gettext_lazy("started"),
    )
    no_shows = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("no shows"))
    seat_sum = models.FloatField(
        default=0,
        help_text=gettext_lazy("Sum over held bookings of people / capacity."),
        verbose_name=gettext_lazy("seat sum"),
    )
    preferred = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Held bookings made while a same-band room was free."),
        verbose_name=gettext_lazy("preferred"),
    )
    lead_quarters = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("lead quarters"))
    sizes = models.JSONField(default=dict, blank=True, verbose_name=gettext_lazy("sizes"))

    class Meta:
        verbose_name = gettext_lazy("room day")
        verbose_name_plural = gettext_lazy("room days")
        constraints = [models.UniqueConstraint(fields=["room", "day"], name="analytics_room_day_unique")]
        indexes = [models.Index(fields=["site", "day"], name="analytics_room_day_site_idx")]

    def __str__(self) -> str:
        return f"{self.room_id} {self.day}"


class SiteHour(models.Model):
    """A site's figures for one local hour, for all rooms (``band`` empty) and per room size band: bookable, booked
    and occupied room-hours, and the most rooms booked at once (sampled every quarter hour)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("site"))
    day = models.DateField(verbose_name=gettext_lazy("day"))
    starts_at = models.DateTimeField(
        help_text=gettext_lazy("The hour's start (UTC); a 25-hour day has two local 02:00."),
        verbose_name=gettext_lazy("starts at"),
    )
    weekday = models.PositiveSmallIntegerField(
        help_text=gettext_lazy("0 Monday .. 6 Sunday (local)."), verbose_name=gettext_lazy("weekday")
    )
    hour = models.PositiveSmallIntegerField(
        help_text=gettext_lazy("Local hour 0-23."), verbose_name=gettext_lazy("hour")
    )
    band = models.CharField(max_length=8, blank=True, choices=SizeBand.choices, verbose_name=gettext_lazy("band"))
    bookable_h = models.FloatField(default=0, verbose_name=gettext_lazy("bookable h"))
    booked_h = models.FloatField(default=0, verbose_name=gettext_lazy("booked h"))
    occupied_h = models.FloatField(default=0, verbose_name=gettext_lazy("occupied h"))
    peak_rooms = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("peak rooms"))

    class Meta:
        verbose_name = gettext_lazy("site hour")
        verbose_name_plural = gettext_lazy("site hours")
        constraints = [
            models.UniqueConstraint(fields=["site", "starts_at", "band"], name="analytics_site_hour_unique"),
        ]
        indexes = [models.Index(fields=["site", "day"], name="analytics_site_hour_day_idx")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} {self.hour:02d}h {self.band or gettext('all')}"
