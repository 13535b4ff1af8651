"""The snapshot computation: which local days changed, and each changed day's figures per room and per hour, all
aggregated in SQL (a handful of statements per batch of days, whatever the number of bookings).

A local day is turned into UTC instants in Python (per day, never per booking): its bounds, each room's bookable
window (the room's or the site's opening hours on that date, so a DST day has 23 or 25 hours and the window moves
with the offset) and its quarter-hour sampling points. The database joins bookings with those instants, clips and
sums. See docs/analytics.md for every definition.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Max
from django.utils import timezone

from analytics import sql
from analytics.models import DayState, RoomDay, SiteHour
from bookings.choices import SizeBand, size_band
from bookings.models import Booking, Closure, Room
from bookings.services import policy_for
from labs.models import Site

# A booking is joined with the hours and days it overlaps through the (site, start) index: it can have started at
# most the site's longest room booking before them (SiteCalendar.look_back), and at least this much.
MIN_LOOK_BACK = timedelta(minutes=15)
SLOT = timedelta(minutes=15)
WINDOW_COLUMNS = ["profile", "day", "open_start", "open_end", "day_start", "day_end", "look_back"]
BATCH_DAYS = 14


def local_day_bounds(day: date, tz) -> tuple[datetime, datetime]:
    return datetime.combine(day, time(0), tzinfo=tz), datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def days_in(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]


@dataclass(frozen=True)
class Profile:
    """Bookable hours shared by a group of rooms (the site's policy, or a room's own)."""

    opens_at: time
    closes_at: time


@dataclass
class SiteCalendar:
    """What the SQL needs about a site's rooms and days, computed once per run."""

    site: Site
    rooms: list[Room]
    profiles: list[Profile]
    room_profile: dict[int, int]
    closed: set[date]
    look_back: timedelta

    @classmethod
    def load(cls, site: Site) -> SiteCalendar:
        policy = policy_for(site)
        rooms = list(Room.objects.filter(site=site).order_by("pk"))
        profiles: list[Profile] = []
        room_profile: dict[int, int] = {}
        for room in rooms:
            profile = Profile(room.opens_at or policy.opens_at, room.closes_at or policy.closes_at)
            if profile not in profiles:
                profiles.append(profile)
            room_profile[room.pk] = profiles.index(profile)
        closed = set(Closure.objects.filter(site=site).values_list("day", flat=True))
        longest = (
            Booking.objects.filter(site=site, room__isnull=False)
            .aggregate(longest=Max(ExpressionWrapper(F("end") - F("start"), output_field=DurationField())))
            .get("longest")
        )
        look_back = max(longest or MIN_LOOK_BACK, MIN_LOOK_BACK) + timedelta(seconds=1)
        return cls(
            site=site, rooms=rooms, profiles=profiles, room_profile=room_profile, closed=closed, look_back=look_back
        )

    @property
    def tz(self):
        return self.site.tz

    def window(self, profile: Profile, day: date) -> tuple[datetime, datetime]:
        """The bookable window of ``day`` in UTC (so that subtracting gives real hours on a DST day); empty on a
        closed day."""
        if day in self.closed:
            start = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
            return start, start
        opens = datetime.combine(day, profile.opens_at, tzinfo=self.tz).astimezone(UTC)
        closes = datetime.combine(day, profile.closes_at, tzinfo=self.tz).astimezone(UTC)
        return opens, closes

    def profile_of(self, alias: str = "b") -> str:
        """The bookable-hours profile of a booking's room as SQL: a constant when every room has the site's hours
        (so the day table alone drives the join), else a CASE over room ids."""
        if len(self.profiles) <= 1:
            return "0"
        groups: dict[int, list[int]] = defaultdict(list)
        for room_id, index in self.room_profile.items():
            groups[index].append(room_id)
        branches = " ".join(
            f"WHEN {alias}.room_id IN ({', '.join(str(int(r)) for r in ids)}) THEN {int(index)}"
            for index, ids in sorted(groups.items())
        )
        return f"(CASE {branches} ELSE -1 END)"

    def bookable_hours(self, room: Room, day: date) -> float:
        if not room.is_active:
            return 0.0
        start, end = self.window(self.profiles[self.room_profile[room.pk]], day)
        return max(0.0, (end - start).total_seconds() / 3600)

    def hours(self, day: date) -> list[tuple[datetime, datetime]]:
        """The site's hours of ``day`` (UTC start, end) from the earliest opening to the latest closing of its rooms,
        walked in UTC so that a 25-hour day has both of its 02:00 hours and a 23-hour day none."""
        if not self.profiles or day in self.closed:
            return []
        starts, ends = zip(*(self.window(p, day) for p in self.profiles), strict=True)
        last = max(ends)
        first = min(starts).astimezone(self.tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        out = []
        moment = first
        while moment < last:
            out.append((moment, moment + timedelta(hours=1)))
            moment += timedelta(hours=1)
        return out


# --- which days changed ------------------------------------------------------------------------------------------


def _fingerprints(cal: SiteCalendar, days: Sequence[date]) -> dict[date, str]:
    """Per local day: how many room bookings touch it and their latest ``updated_at`` (one query)."""
    if not days:
        return {}
    rows = []
    for d in days:
        day_start, day_end = local_day_bounds(d, cal.tz)
        rows.append((sql.day_literal(d), sql.ts(day_start), sql.ts(day_end), sql.ts(day_start - cal.look_back)))
    query = f"""
        WITH {sql.values("d", ["day", "day_start", "day_end", "look_back"], rows)}
        SELECT d.day, COUNT(b.id), MAX(b.updated_at)
        FROM d CROSS JOIN bookings_booking b
        WHERE b.start < d.day_end AND b."end" > d.day_start AND b.start >= d.look_back
          AND b.site_id = %s AND b.room_id IS NOT NULL
        GROUP BY d.day
    """  # noqa: S608 - analytics.sql literals from our own dates and ids
    found = {}
    for day, count, latest in sql.fetch(query, [cal.site.pk]):
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        found[day] = f"{count}:{latest}"
    return {d: found.get(d, "0:None") for d in days}


def changed_days(cal: SiteCalendar, days: Sequence[date], *, now: datetime) -> tuple[list[date], dict[date, str]]:
    """The days among ``days`` to recompute: never computed, computed before they ended, or whose bookings changed
    (added, removed, moved, or updated) since. Returns them with every day's current fingerprint."""
    fingerprints = _fingerprints(cal, days)
    states = {
        s.day: s for s in DayState.objects.filter(site=cal.site, day__in=list(days)).only("day", "fingerprint", "final")
    }
    dirty = []
    for day in days:
        state = states.get(day)
        if state is None or not state.final or state.fingerprint != fingerprints[day]:
            dirty.append(day)
    return dirty, fingerprints


# --- the figures of a batch of days ------------------------------------------------------------------------------


def _room_days(cal: SiteCalendar, days: Sequence[date], *, now: datetime) -> dict[tuple[int, date], dict]:
    grace = cal.site.check_in_grace_minutes
    windows = []
    for index, profile in enumerate(cal.profiles):
        for day in days:
            day_start, day_end = local_day_bounds(day, cal.tz)
            open_start, open_end = cal.window(profile, day)
            windows.append(
                (
                    str(index),
                    sql.day_literal(day),
                    sql.ts(open_start),
                    sql.ts(open_end),
                    sql.ts(day_start),
                    sql.ts(day_end),
                    sql.ts(day_start - cal.look_back),
                )
            )
    starts_today = "(b.start >= d.day_start AND b.start < d.day_end)"
    held = f"b.status IN {sql.HELD}"
    ghost_end = sql.least(f"COALESCE(b.released_at, {sql.plus_minutes('b.start', grace)})", 'b."end"')
    same_band_free = f"""EXISTS (
            SELECT 1 FROM bookings_room r2
            WHERE r2.site_id = b.site_id AND r2.is_active AND r2.id <> b.room_id
              AND {sql.band_of("r2.capacity")} = {sql.band_of("r.capacity")}
              AND NOT EXISTS (
                SELECT 1 FROM bookings_booking b3
                WHERE b3.room_id = r2.id AND b3.status IN {sql.HELD}
                  AND b3.hold_end > b.start AND b3.start < b."end"))"""  # noqa: S608 - analytics.sql literals from our own dates and ids
    base = f"""
        WITH {sql.values("d", WINDOW_COLUMNS, windows)}
    """
    joins = f"""
        FROM d CROSS JOIN bookings_booking b
        JOIN bookings_room r ON r.id = b.room_id
        WHERE b.start < d.day_end AND b."end" > d.day_start AND b.start >= d.look_back
          AND {cal.profile_of("b")} = d.profile
          AND b.site_id = %s AND b.room_id IS NOT NULL
    """  # noqa: S608 - analytics.sql literals from our own dates and ids
    main = f"""{base}
        SELECT b.room_id, d.day,
          SUM(CASE WHEN {held} THEN {sql.clipped_hours("b.start", 'b."end"', "d.open_start", "d.open_end")} ELSE 0 END),
          SUM(CASE WHEN b.checked_in_at IS NOT NULL AND b.status IN {sql.CHECKED_IN_OR_DONE}
                   THEN {sql.clipped_hours("b.checked_in_at", 'b."end"', "d.open_start", "d.open_end")} ELSE 0 END),
          SUM(CASE WHEN b.status = {sql.RELEASED}
                   THEN {sql.clipped_hours("b.start", ghost_end, "d.open_start", "d.open_end")} ELSE 0 END),
          SUM(CASE WHEN {starts_today} AND {held} THEN 1 ELSE 0 END),
          SUM(CASE WHEN {starts_today} AND b.status IN {sql.STARTED_STATUSES} AND b.start <= {sql.ts(now)}
                   THEN 1 ELSE 0 END),
          SUM(CASE WHEN {starts_today} AND b.status = {sql.RELEASED} THEN 1 ELSE 0 END),
          SUM(CASE WHEN {starts_today} AND {held} THEN (1.0 + {sql.attendee_count()}) / r.capacity ELSE 0 END),
          SUM(CASE WHEN {starts_today} AND {held} THEN (CASE WHEN {same_band_free} THEN 1 ELSE 0 END) ELSE 0 END)
        {joins}
        GROUP BY b.room_id, d.day
    """
    figures: dict[tuple[int, date], dict] = {}
    for room_id, day, booked, occupied, ghost, n_held, started, no_shows, seat_sum, preferred in sql.fetch(
        main, [cal.site.pk]
    ):
        figures[(room_id, _as_date(day))] = {
            "booked_h": _hours(booked),
            "occupied_h": _hours(occupied),
            "ghost_h": _hours(ghost),
            "held": int(n_held or 0),
            "started": int(started or 0),
            "no_shows": int(no_shows or 0),
            "seat_sum": round(float(seat_sum or 0), 9),
            "preferred": int(preferred or 0),
            "lead_quarters": {},
            "sizes": {},
        }
    lead = sql.hours_between("b.created_at", "b.start")
    histograms = f"""{base}
        SELECT b.room_id, d.day, 'lead', CAST(FLOOR({lead} * 4) AS INTEGER), COUNT(*)
        {joins} AND {starts_today} AND {held} AND b.created_at <= b.start
        GROUP BY b.room_id, d.day, CAST(FLOOR({lead} * 4) AS INTEGER)
        UNION ALL
        SELECT b.room_id, d.day, 'size', 1 + {sql.attendee_count()}, COUNT(*)
        {joins} AND {starts_today} AND {held}
        GROUP BY b.room_id, d.day, 1 + {sql.attendee_count()}
    """
    if not sql.postgres():  # SQLite has no FLOOR before 3.35's math functions: truncate the non-negative value
        histograms = histograms.replace(f"CAST(FLOOR({lead} * 4) AS INTEGER)", f"CAST({lead} * 4 AS INTEGER)")
    for room_id, day, kind, key, count in sql.fetch(histograms, [cal.site.pk, cal.site.pk]):
        row = figures.get((room_id, _as_date(day)))
        if row is not None:
            row["lead_quarters" if kind == "lead" else "sizes"][str(int(key))] = int(count)
    return figures


def _site_hours(cal: SiteCalendar, days: Sequence[date]) -> list[dict]:
    """Per local hour of the days: booked and occupied room-hours per band, and the most rooms booked at once per
    band (at each quarter hour; summed over bands for all rooms, as rooms are in one band each)."""
    hours = [(day, start, end) for day in days for start, end in cal.hours(day)]
    if not hours:
        return []
    # One row per hour and bookable-hours profile open in it, with the part of the hour that profile is open.
    hour_rows = []
    for day, start, end in hours:
        for index, profile in enumerate(cal.profiles):
            open_start, open_end = cal.window(profile, day)
            clip_start, clip_end = max(start, open_start), min(end, open_end)
            if clip_start < clip_end:
                hour_rows.append(
                    (sql.ts(start), sql.ts(end), sql.ts(start - cal.look_back), str(index), sql.ts(clip_start),
                     sql.ts(clip_end))
                )  # fmt: skip
    slot_rows = [
        (sql.ts(s + SLOT * k), sql.ts(s), sql.ts(s + SLOT * k - cal.look_back)) for _d, s, _e in hours for k in range(4)
    ]
    band = sql.band_of("r.capacity")
    hours_sql = f"""
        WITH {sql.values("h", ["starts_at", "ends_at", "look_back", "profile", "clip_start", "clip_end"], hour_rows)}
        SELECT h.starts_at, {band},
          SUM(CASE WHEN b.status IN {sql.HELD}
                   THEN {sql.clipped_hours("b.start", 'b."end"', "h.clip_start", "h.clip_end")} ELSE 0 END),
          SUM(CASE WHEN b.checked_in_at IS NOT NULL AND b.status IN {sql.CHECKED_IN_OR_DONE}
                   THEN {sql.clipped_hours("b.checked_in_at", 'b."end"', "h.clip_start", "h.clip_end")} ELSE 0 END)
        FROM h CROSS JOIN bookings_booking b
        JOIN bookings_room r ON r.id = b.room_id
        WHERE b.start < h.ends_at AND b."end" > h.starts_at AND b.start >= h.look_back
          AND {cal.profile_of("b")} = h.profile
          AND b.site_id = %s AND b.room_id IS NOT NULL
          AND b.status IN {sql.PUBLISHED_STATUSES}
        GROUP BY h.starts_at, {band}
    """  # noqa: S608 - analytics.sql literals from our own dates and ids
    peaks_sql = f"""
        WITH {sql.values("s", ["at", "hour_start", "look_back"], slot_rows)}
        SELECT s.hour_start, s.at, {band}, COUNT(DISTINCT b.room_id)
        FROM s CROSS JOIN bookings_booking b
        JOIN bookings_room r ON r.id = b.room_id
        WHERE b.start <= s.at AND b."end" > s.at AND b.start >= s.look_back
          AND b.site_id = %s AND b.room_id IS NOT NULL AND b.status IN {sql.HELD}
        GROUP BY s.hour_start, s.at, {band}
    """  # noqa: S608 - analytics.sql literals from our own dates and ids
    by_hour: dict[tuple[datetime, str], dict] = {}
    index = {sql.ts(s): (d, s) for d, s, _e in hours}
    bands = [str(b) for b in SizeBand.values]
    rooms_open = _bookable_per_hour(cal, hours)
    for day, start, _end in hours:
        local = start.astimezone(cal.tz)
        for band_name in ["", *bands]:
            by_hour[(start, band_name)] = {
                "day": day,
                "starts_at": start,
                "weekday": local.weekday(),
                "hour": local.hour,
                "band": band_name,
                "bookable_h": rooms_open.get((start, band_name), 0.0),
                "booked_h": 0.0,
                "occupied_h": 0.0,
                "peak_rooms": 0,
            }
    for starts_at, band_name, booked, occupied in sql.fetch(hours_sql, [cal.site.pk]):
        start = index[sql.ts(_as_datetime(starts_at))][1]
        for key in (band_name, ""):
            by_hour[(start, key)]["booked_h"] += _hours(booked)
            by_hour[(start, key)]["occupied_h"] += _hours(occupied)
    per_slot: dict[tuple[datetime, str, str], int] = defaultdict(int)
    for hour_start, at, band_name, rooms in sql.fetch(peaks_sql, [cal.site.pk]):
        start = index[sql.ts(_as_datetime(hour_start))][1]
        at_key = sql.ts(_as_datetime(at))
        per_slot[(start, at_key, band_name)] = int(rooms)
        per_slot[(start, at_key, "")] += int(rooms)
    for (start, _at, band_name), rooms in per_slot.items():
        row = by_hour[(start, band_name)]
        row["peak_rooms"] = max(row["peak_rooms"], rooms)
    return list(by_hour.values())


def _bookable_per_hour(cal: SiteCalendar, hours) -> dict[tuple[datetime, str], float]:
    """Bookable room-hours inside each hour, per band and for all rooms (per room and hour: no booking involved)."""
    out: dict[tuple[datetime, str], float] = defaultdict(float)
    active = [room for room in cal.rooms if room.is_active]
    for day, start, end in hours:
        for room in active:
            open_start, open_end = cal.window(cal.profiles[cal.room_profile[room.pk]], day)
            overlap = (min(end, open_end) - max(start, open_start)).total_seconds() / 3600
            if overlap > 0:
                out[(start, size_band(room.capacity))] += overlap
                out[(start, "")] += overlap
    return out


def _hours(value) -> float:
    """Hours to the second (SQLite's julianday arithmetic leaves noise in the ninth decimal)."""
    return round(float(value or 0) * 3600) / 3600


def _as_date(value) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


# --- writing ------------------------------------------------------------------------------------------------------


def recompute(
    cal: SiteCalendar,
    days: Sequence[date],
    fingerprints: dict[date, str],
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace the snapshots of ``days`` (in batches, each in its own transaction) and mark them computed."""
    done = 0
    for offset in range(0, len(days), BATCH_DAYS):
        batch = sorted(days[offset : offset + BATCH_DAYS])
        figures = _room_days(cal, batch, now=now)
        hours = _site_hours(cal, batch)
        room_days = []
        for room in cal.rooms:
            for day in batch:
                row = figures.get((room.pk, day))
                bookable = cal.bookable_hours(room, day)
                if row is None and bookable == 0:
                    continue
                room_days.append({**EMPTY_DAY, **(row or {}), "site_id": cal.site.pk, "room_id": room.pk, "day": day,
                                  "bookable_h": bookable})  # fmt: skip
        with transaction.atomic():
            RoomDay.objects.filter(site=cal.site, day__in=batch).delete()
            SiteHour.objects.filter(site=cal.site, day__in=batch).delete()
            sql.bulk_insert(RoomDay, room_days)
            sql.bulk_insert(SiteHour, [{**h, "site_id": cal.site.pk} for h in hours])
            DayState.objects.filter(site=cal.site, day__in=batch).delete()
            DayState.objects.bulk_create(
                [
                    DayState(
                        site=cal.site,
                        day=day,
                        fingerprint=fingerprints[day],
                        final=now >= local_day_bounds(day, cal.tz)[1],
                        computed_at=now,
                    )
                    for day in batch
                ]
            )
        done += len(batch)
        if progress is not None:
            progress(done)
    return done


EMPTY_DAY = {
    "booked_h": 0.0,
    "occupied_h": 0.0,
    "ghost_h": 0.0,
    "held": 0,
    "started": 0,
    "no_shows": 0,
    "seat_sum": 0.0,
    "preferred": 0,
    "lead_quarters": {},
    "sizes": {},
}


def batches(count: int) -> int:
    return math.ceil(count / BATCH_DAYS) if count else 0
