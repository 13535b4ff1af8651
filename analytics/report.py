"""A period's published figures, built from the snapshots: the rooms table, the heatmap (hour x weekday), peak
concurrency, unmet demand, the weekly trend and the recommendations; k-anonymous.

k-anonymity: every published cell counts the distinct people behind it (organisers, by account, and identified
attendees, by e-mail) with one SQL statement per table over the period's bookings; the identities never leave the
database. A cell of 1 to 4 people is suppressed (``null``, ``"suppressed": true``). Because the cells of a table add
up to the site's total (which the other tables also reveal), suppression is complementary: the suppressed cells of
a table are at least two and together concern at least five people, else the next smallest cell is suppressed too;
so subtraction from a total recovers at best the sum of a group of five or more people. If the whole period concerns
fewer than five people, nothing is published. Unmet demand carries no person, so each attempt is counted as one
possible person (a cell of fewer than five attempts is suppressed, complementarily too).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from analytics import recommend, sql
from analytics.compute import SiteCalendar, local_day_bounds
from analytics.models import RoomDay, SiteHour
from bookings.choices import SizeBand, size_band
from bookings.models import DemandSignal
from labs.models import Site

K = 5  # the smallest number of distinct people a published figure may rest on
ROOM_FIELDS = [
    "room",
    "name",
    "capacity",
    "bookable_h",
    "booked_h",
    "utilisation",
    "occupied_h",
    "occupancy",
    "no_show_rate",
    "ghost_h",
    "seat_utilisation",
    "lead_time_h",
    "preferred",
    "suppressed",
]
FIGURES = ROOM_FIELDS[3:-1]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _median(histogram: dict[int, int]) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for key in sorted(histogram):
        count = histogram[key]
        while len(found) < 2 and wanted[len(found)] < seen + count:
            found.append(key)
        seen += count
    return sum(found) / 2


def percentile(histogram: dict[int, int], q: float) -> int | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for key in sorted(histogram):
        seen += histogram[key]
        if seen >= rank:
            return key
    return max(histogram)


# --- distinct people --------------------------------------------------------------------------------------------


class People:
    """Distinct people behind the period's bookings, grouped by a key; counted in SQL, identities never fetched."""

    def __init__(self, site: Site, date_from: date, date_to: date, *, look_back: timedelta):
        self.site = site
        self.look_back = look_back
        self.start = local_day_bounds(date_from, site.tz)[0]
        self.end = local_day_bounds(date_to, site.tz)[1]

    def _query(self, key: str, ctes: list[str], joins: tuple[str, str], only: Iterable | None) -> tuple[str, list]:
        """``joins``: (a table put before the bookings, with CROSS JOIN so that it drives the (site, start) index;
        its join conditions)."""
        table, condition = joins
        source = f"{table} CROSS JOIN bookings_booking b" if table else "bookings_booking b"
        where = f"b.site_id = %s AND b.room_id IS NOT NULL AND b.status IN {sql.PUBLISHED_STATUSES}" + (
            f" AND {condition}"
            if condition
            else f" AND b.start >= {sql.ts(self.start)} AND b.start < {sql.ts(self.end)}"
        )
        organiser = (
            f"COALESCE(NULLIF(lower(u.email), ''), {sql.concat(chr(39) + '#' + chr(39), sql.text('b.organiser_id'))})"
        )
        expand, email = sql.attendee_emails("b")
        with_clause = f"WITH {', '.join(ctes)}" if ctes else ""
        inner = f"""
            SELECT {key} AS k, {organiser} AS who
            FROM {source} JOIN labs_person p ON p.id = b.organiser_id JOIN auth_user u ON u.id = p.user_id
            WHERE {where}
            UNION ALL
            SELECT {key} AS k, {email} AS who FROM {source} {expand} WHERE {where}
        """  # noqa: S608 - analytics.sql literals from our own dates and ids
        params = [self.site.pk, self.site.pk]
        if only is None:
            return f"{with_clause} SELECT x.k, COUNT(DISTINCT x.who) FROM ({inner}) x GROUP BY x.k", params  # noqa: S608
        keys = ", ".join(str(int(k)) for k in only) or "NULL"
        return f"{with_clause} SELECT COUNT(DISTINCT x.who) FROM ({inner}) x WHERE x.k IN ({keys})", params  # noqa: S608

    def _run(self, key, ctes, joins, only):
        query, params = self._query(key, ctes, joins, only)
        rows = sql.fetch(query, params)
        if only is not None:
            return int(rows[0][0] or 0)
        return {int(k): int(n) for k, n in rows if k is not None}

    def total(self) -> int:
        return self._run("0", [], ("", ""), [0])

    def by_room(self, only=None):
        return self._run("b.room_id", [], ("", ""), only)

    def _cells(self, hours: list[tuple[datetime, datetime, int]]):
        rows = [(sql.ts(s), sql.ts(e), sql.ts(s - self.look_back), str(key)) for s, e, key in hours]
        cte = sql.values("h", ["starts_at", "ends_at", "look_back", "cell"], rows)
        return [cte], ("h", 'b.start < h.ends_at AND b."end" > h.starts_at AND b.start >= h.look_back')

    def by_cell(self, hours, only=None):
        if not hours:
            return {} if only is None else 0
        ctes, joins = self._cells(hours)
        return self._run("h.cell", ctes, joins, only)

    def by_week(self, weeks: list[tuple[datetime, datetime, int]], only=None):
        if not weeks:
            return {} if only is None else 0
        rows = [(sql.ts(s), sql.ts(e), str(key)) for s, e, key in weeks]
        cte = sql.values("w", ["week_start", "week_end", "week"], rows)
        return self._run("w.week", [cte], ("w", "b.start >= w.week_start AND b.start < w.week_end"), only)


def suppressed_cells(people: dict, union: Callable[[set], int]) -> set:
    """Primary suppression (1 to K-1 people), then complementary: at least two suppressed cells that together
    concern at least K people, else the smallest publishable cell joins them."""
    hidden = {key for key, n in people.items() if 0 < n < K}
    if not hidden:
        return hidden
    if len(hidden) >= 2 and union(hidden) >= K:
        return hidden
    candidates = sorted((n, key) for key, n in people.items() if key not in hidden and n >= K)
    if candidates:
        hidden.add(candidates[0][1])
    return hidden


# --- the report ---------------------------------------------------------------------------------------------------


def report_build(*, site: Site, date_from: date, date_to: date, now: datetime | None = None) -> dict:
    """The figures of ``date_from``..``date_to`` (both included) from the snapshots, k-anonymous."""
    now = now or timezone.now()
    cal = SiteCalendar.load(site)
    people = People(site, date_from, date_to, look_back=cal.look_back)
    total_people = people.total()
    rooms = _rooms(cal, date_from, date_to, people)
    hours = _hours(site, date_from, date_to, people)
    weeks = _weeks(site, date_from, date_to, people)
    unmet = _unmet(site, date_from, date_to)
    report = {
        "site": site.slug,
        "timezone": site.timezone,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "k_anonymity": K,
        "rooms": rooms,
        "heatmap": hours["heatmap"],
        "peak_concurrency": hours["peak"],
        "unmet_demand": unmet,
        "weeks": weeks,
        "generated_at": now.isoformat(),
    }
    if 0 < total_people < K:  # the whole period is about too few people: publish nothing about it
        _suppress_everything(report)
    report["recommendations"] = recommend.recommendations(cal=cal, report=report, date_from=date_from, date_to=date_to)
    return report


def _suppress_everything(report: dict) -> None:
    for row in report["rooms"]:
        row.update(dict.fromkeys(FIGURES), suppressed=True)
    for table in ("heatmap", "peak_concurrency", "unmet_demand", "weeks"):
        for cell in report[table]:
            for name in (
                "value",
                "utilisation",
                "occupancy",
                "booked_h",
                "occupied_h",
                "rooms",
                "attempts",
                "no_show_rate",
            ):
                if name in cell:
                    cell[name] = None
            cell["suppressed"] = True


def _rooms(cal: SiteCalendar, date_from: date, date_to: date, people: People) -> list[dict]:
    days = RoomDay.objects.filter(site=cal.site, day__gte=date_from, day__lte=date_to)
    sums = {
        row["room_id"]: row
        for row in days.values("room_id").annotate(
            bookable=Sum("bookable_h"),
            booked=Sum("booked_h"),
            occupied=Sum("occupied_h"),
            ghost=Sum("ghost_h"),
            n_held=Sum("held"),
            n_started=Sum("started"),
            n_no_shows=Sum("no_shows"),
            seats=Sum("seat_sum"),
            n_preferred=Sum("preferred"),
        )
    }
    leads: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for room_id, lead, size in days.values_list("room_id", "lead_quarters", "sizes"):  # one row per room and day
        for key, count in (lead or {}).items():
            leads[room_id][int(key)] += count
        for key, count in (size or {}).items():
            sizes[room_id][int(key)] += count
    counts = people.by_room()
    hidden = suppressed_cells(counts, lambda keys: people.by_room(only=keys))
    rows = []
    for room in cal.rooms:
        s = sums.get(room.pk)
        if s is None and not room.is_active:
            continue
        s = s or {}
        bookable, booked, occupied = s.get("bookable") or 0.0, s.get("booked") or 0.0, s.get("occupied") or 0.0
        held = s.get("n_held") or 0
        median = _median(leads[room.pk])
        row = {
            "room": room.pk,
            "name": room.name,
            "capacity": room.capacity,
            "band": size_band(room.capacity),
            "bookable_h": round(bookable, 2),
            "booked_h": round(booked, 2),
            "utilisation": _ratio(booked, bookable),
            "occupied_h": round(occupied, 2),
            "occupancy": _ratio(occupied, bookable),
            "no_show_rate": _ratio(s.get("n_no_shows") or 0, s.get("n_started") or 0),
            "ghost_h": round(s.get("ghost") or 0.0, 2),
            "seat_utilisation": _ratio(s.get("seats") or 0.0, held),
            "lead_time_h": None if median is None else round(median / 4, 2),
            "preferred": s.get("n_preferred") or 0,
            "held": held,
            "sizes": {str(k): v for k, v in sorted(sizes[room.pk].items())},
            "suppressed": room.pk in hidden,
        }
        if row["suppressed"]:
            row.update(dict.fromkeys([*FIGURES, "held"]), sizes=None)
        rows.append(row)
    return rows


def _hour_keys(site: Site, date_from: date, date_to: date):
    """The period's open hours as (start, end, cell) with cell = weekday * 100 + local hour."""
    return [
        (starts_at, starts_at + timedelta(hours=1), weekday * 100 + hour)
        for starts_at, weekday, hour in SiteHour.objects.filter(
            site=site, band="", day__gte=date_from, day__lte=date_to
        ).values_list("starts_at", "weekday", "hour")
    ]


def _hours(site: Site, date_from: date, date_to: date, people: People) -> dict:
    rows = SiteHour.objects.filter(site=site, band="", day__gte=date_from, day__lte=date_to)
    cells: dict[int, dict] = {}
    for weekday, hour, bookable, booked, occupied, peak in rows.values_list(
        "weekday", "hour", "bookable_h", "booked_h", "occupied_h", "peak_rooms"
    ):
        cell = cells.setdefault(
            weekday * 100 + hour, {"bookable": 0.0, "booked": 0.0, "occupied": 0.0, "peak": 0, "hours": 0}
        )
        cell["bookable"] += bookable
        cell["booked"] += booked
        cell["occupied"] += occupied
        cell["peak"] = max(cell["peak"], peak)
        cell["hours"] += 1
    hours = _hour_keys(site, date_from, date_to)
    counts = people.by_cell(hours)
    hidden = suppressed_cells({key: counts.get(key, 0) for key in cells}, lambda keys: people.by_cell(hours, keys))
    heatmap, peak = [], []
    for key in sorted(cells):
        cell = cells[key]
        weekday, hour = divmod(key, 100)
        is_hidden = key in hidden
        heatmap.append(
            {
                "weekday": weekday,
                "day": WEEKDAYS[weekday],
                "hour": hour,
                "utilisation": None if is_hidden else _ratio(cell["booked"], cell["bookable"]),
                "occupancy": None if is_hidden else _ratio(cell["occupied"], cell["bookable"]),
                "booked_h": None if is_hidden else round(cell["booked"], 2),
                "suppressed": is_hidden,
            }
        )
        # A maximum cannot be recovered by subtraction: only cells about 1 to 4 people are hidden.
        few = 0 < counts.get(key, 0) < K
        peak.append(
            {
                "weekday": weekday,
                "day": WEEKDAYS[weekday],
                "hour": hour,
                "rooms": None if few else cell["peak"],
                "suppressed": few,
            }
        )
    return {"heatmap": heatmap, "peak": peak}


def _weeks(site: Site, date_from: date, date_to: date, people: People) -> list[dict]:
    tz = site.tz
    monday = date_from - timedelta(days=date_from.weekday())
    spans = []
    while monday <= date_to:
        first, last = max(monday, date_from), min(monday + timedelta(days=6), date_to)
        spans.append((first, last))
        monday += timedelta(days=7)
    keys = [(local_day_bounds(f, tz)[0], local_day_bounds(t, tz)[1], i) for i, (f, t) in enumerate(spans)]
    sums = defaultdict(lambda: {"bookable": 0.0, "booked": 0.0, "occupied": 0.0, "started": 0, "no_shows": 0})
    for day, bookable, booked, occupied, started, no_shows in RoomDay.objects.filter(
        site=site, day__gte=date_from, day__lte=date_to
    ).values_list("day", "bookable_h", "booked_h", "occupied_h", "started", "no_shows"):
        index = (day - (date_from - timedelta(days=date_from.weekday()))).days // 7
        s = sums[index]
        s["bookable"] += bookable
        s["booked"] += booked
        s["occupied"] += occupied
        s["started"] += started
        s["no_shows"] += no_shows
    counts = people.by_week(keys)
    hidden = suppressed_cells({i: counts.get(i, 0) for i in range(len(spans))}, lambda only: people.by_week(keys, only))
    out = []
    for i, (first, last) in enumerate(spans):
        s = sums[i]
        is_hidden = i in hidden
        out.append(
            {
                "week": f"{first.isocalendar().year}-W{first.isocalendar().week:02d}",
                "from": first.isoformat(),
                "to": last.isoformat(),
                "utilisation": None if is_hidden else _ratio(s["booked"], s["bookable"]),
                "occupancy": None if is_hidden else _ratio(s["occupied"], s["bookable"]),
                "no_show_rate": None if is_hidden else _ratio(s["no_shows"], s["started"]),
                "suppressed": is_hidden,
            }
        )
    return out


def unmet_by_hour(site: Site, date_from: date, date_to: date) -> dict[tuple[date, int, str], int]:
    """Unmet demand per local (day, hour, band): refused attempts and empty searches added up."""
    out: dict[tuple[date, int, str], int] = defaultdict(int)
    for day, hour, band, count in (
        DemandSignal.objects.filter(site=site, day__gte=date_from, day__lte=date_to)
        .values_list("day", "hour", "size_band")
        .annotate(n=Sum("count"))
    ):
        out[(day, hour, band)] += count
    return out


def _unmet(site: Site, date_from: date, date_to: date) -> list[dict]:
    cells: dict[tuple[int, int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, hour, band, kind, count in (
        DemandSignal.objects.filter(site=site, day__gte=date_from, day__lte=date_to)
        .values_list("day", "hour", "size_band", "kind")
        .annotate(n=Sum("count"))
    ):
        cells[(day.weekday(), hour, band)][kind] += count
    bands = list(SizeBand.values)
    keyed = {(w * 100 + h) * 10 + bands.index(b): sum(kinds.values()) for (w, h, b), kinds in cells.items()}
    hidden = suppressed_cells(keyed, lambda keys: sum(keyed[k] for k in keys))
    out = []
    for (weekday, hour, band), kinds in sorted(cells.items()):
        key = (weekday * 100 + hour) * 10 + bands.index(band)
        is_hidden = key in hidden
        out.append(
            {
                "weekday": weekday,
                "day": WEEKDAYS[weekday],
                "hour": hour,
                "size_band": band,
                "attempts": None if is_hidden else keyed[key],
                "by_kind": None if is_hidden else dict(kinds),
                "suppressed": is_hidden,
            }
        )
    return out
