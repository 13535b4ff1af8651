"""Recommendations with their evidence: add rooms (a replay of the period's demand against candidate room counts),
convert rooms to desks, right-size rooms, preferred rooms. Each names the figures it rests on and a confidence.

They are sized for the busy hours, not the average (contracts/ANALYTICS.md): per size band, the hours of the period
are ranked by that band's demand (rooms of the band booked at once, sampled every quarter hour, plus its unmet
demand: refused attempts and empty searches); the busiest 10 % are replayed against 0, 1, 2... rooms of the band,
and the smallest count that refuses at most 5 % of those hours' attempts is what the site needs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy, ngettext, override

from analytics import sql
from analytics.choices import Confidence, RecommendationKind
from analytics.compute import SiteCalendar
from analytics.models import SiteHour
from bookings.choices import SizeBand, size_band

BUSIEST_SHARE = 0.10
REFUSED_TARGET = 0.05
CONVERT_OCCUPANCY_AT_PEAK = 0.25
CONVERT_SEAT_UTILISATION = 0.40
RIGHT_SIZE_MIN_BOOKINGS = 10
PREFERRED_MARGIN = 1.25
PREFERRED_MIN_BOOKINGS = 10


# What the evidence's keys and the figures it names are called on the staff dashboard (the API keeps the keys).
EVIDENCE_LABELS = {
    "size_band": gettext_lazy("Size band (people)"),
    "rooms_now": gettext_lazy("Rooms now"),
    "rooms_needed": gettext_lazy("Rooms needed"),
    "add": gettext_lazy("Rooms to add"),
    "busiest_hours": gettext_lazy("Busiest hours"),
    "hours_in_period": gettext_lazy("Hours in the period"),
    "attempts_in_busiest_hours": gettext_lazy("Attempts in the busiest hours"),
    "unmet_in_busiest_hours": gettext_lazy("Unmet in the busiest hours"),
    "unmet_in_period": gettext_lazy("Unmet in the period"),
    "refused_share_now": gettext_lazy("Share refused now"),
    "refused_share_with_needed": gettext_lazy("Share refused with the rooms needed"),
    "target_refused_share": gettext_lazy("Target share refused"),
    "room": gettext_lazy("Room id"),
    "name": gettext_lazy("Room"),
    "capacity": gettext_lazy("Seats"),
    "occupancy_at_peak": gettext_lazy("Occupancy in the busiest hours"),
    "utilisation_at_peak": gettext_lazy("Utilisation in the busiest hours"),
    "occupancy": gettext_lazy("Occupancy"),
    "utilisation": gettext_lazy("Utilisation"),
    "seat_utilisation": gettext_lazy("Seat utilisation"),
    "median_people": gettext_lazy("Median people"),
    "p90_people": gettext_lazy("People, 9 in 10 meetings"),
    "suggested_band": gettext_lazy("Suggested size band"),
    "bookings": gettext_lazy("Bookings"),
    "preferred": gettext_lazy("Chosen while another was free"),
    "band_average_preferred": gettext_lazy("Band average"),
    "rooms_in_band": gettext_lazy("Rooms in the band"),
    "share": gettext_lazy("Share of its bookings"),
}
# Evidence given as a share (0 to 1): the dashboard writes it as a percentage.
EVIDENCE_SHARES = frozenset(
    {
        "refused_share_now",
        "refused_share_with_needed",
        "target_refused_share",
        "occupancy_at_peak",
        "utilisation_at_peak",
        "occupancy",
        "utilisation",
        "seat_utilisation",
        "share",
    }
)
FIGURE_LABELS = {
    "peak_concurrency": gettext_lazy("peak concurrency"),
    "unmet_demand": gettext_lazy("unmet demand"),
    "occupancy": gettext_lazy("occupancy"),
    "seat_utilisation": gettext_lazy("seat utilisation"),
    "utilisation": gettext_lazy("utilisation"),
    "meeting sizes": gettext_lazy("meeting sizes"),
    "preferred": gettext_lazy("preferred"),
}


def percent(share: float) -> str:
    """A share (0 to 1) as a whole percentage, as the recommendations and the dashboard's evidence write it."""
    return f"{share:.0%}"


def describe(kind: str, evidence: dict) -> str:
    """A recommendation in words, in the active language, from its evidence alone: a run stores it (in the
    project's language, for the API) and the staff dashboard writes it again in the reader's. KeyError for evidence
    that lacks a figure (a run stored before a figure was added): the caller falls back to the stored summary."""
    e = evidence
    if kind == RecommendationKind.ADD_ROOMS:
        return ngettext(
            "Add %(add)d room for %(band)s people: in the busiest %(hours)d hours %(now)s of that band's demand is "
            "refused now; with %(need)d rooms at most %(target)s would be.",
            "Add %(add)d rooms for %(band)s people: in the busiest %(hours)d hours %(now)s of that band's demand is "
            "refused now; with %(need)d rooms at most %(target)s would be.",
            e["add"],
        ) % {
            "add": e["add"],
            "band": e["size_band"],
            "hours": e["busiest_hours"],
            "now": percent(e["refused_share_now"]),
            "need": e["rooms_needed"],
            "target": percent(e["target_refused_share"]),
        }
    if kind == RecommendationKind.CONVERT_TO_DESKS:
        values = {
            "name": e["name"],
            "capacity": e["capacity"],
            "hours": e["busiest_hours"],
            "occupancy": percent(e["occupancy_at_peak"]),
        }
        if e["seat_utilisation"] is None:
            return (
                gettext(
                    "Consider turning %(name)s (%(capacity)d seats) into desks: in the site's %(hours)d busiest "
                    "hours it was occupied %(occupancy)s of the time."
                )
                % values
            )
        return gettext(
            "Consider turning %(name)s (%(capacity)d seats) into desks: in the site's %(hours)d busiest hours it "
            "was occupied %(occupancy)s of the time, and its bookings fill %(seats)s of its seats."
        ) % {**values, "seats": percent(e["seat_utilisation"])}
    if kind == RecommendationKind.RIGHT_SIZE:
        return gettext(
            "%(name)s seats %(capacity)d but 9 in 10 of its meetings have %(p90)s people or fewer (median "
            "%(median)s): a room for %(band)s people would do."
        ) % {
            "name": e["name"],
            "capacity": e["capacity"],
            "p90": e["p90_people"],
            "median": e["median_people"],
            "band": e["suggested_band"],
        }
    if kind == RecommendationKind.PREFERRED:
        return gettext(
            "People prefer %(name)s: it was chosen %(count)s times while another room for %(band)s people was "
            "free, %(ratio)s the band's average. Copy what it offers when fitting out the others."
        ) % {
            "name": e["name"],
            "count": e["preferred"],
            "band": e["size_band"],
            "ratio": f"{formats.number_format(e['preferred'] / e['band_average_preferred'], 1)}x",
        }
    raise KeyError(kind)


def _confidence(weeks: float, volume: int, *, enough: int) -> str:
    if weeks >= 8 and volume >= enough:
        return Confidence.HIGH
    if weeks >= 4 and volume >= enough / 4:
        return Confidence.MEDIUM
    return Confidence.LOW


def busiest(hours: dict, share: float = BUSIEST_SHARE) -> list:
    """The busiest ``share`` of ``hours`` (key -> demand), at least one, busiest first."""
    ranked = sorted(hours.items(), key=lambda item: (-item[1], str(item[0])))
    return ranked[: max(1, math.ceil(share * len(ranked)))] if ranked else []


def refused_share(attempts: list[int], rooms: int) -> float:
    total = sum(attempts)
    return sum(max(0, a - rooms) for a in attempts) / total if total else 0.0


def rooms_needed(attempts: list[int], *, target: float = REFUSED_TARGET) -> int:
    """The fewest rooms with which at most ``target`` of ``attempts`` (one number per hour) are refused."""
    rooms = 0
    while refused_share(attempts, rooms) > target:
        rooms += 1
    return rooms


def recommendations(*, cal: SiteCalendar, report: dict, date_from: date, date_to: date) -> list[dict]:
    weeks = ((date_to - date_from).days + 1) / 7
    out = []
    out += _add_rooms(cal, date_from, date_to, weeks)
    out += _convert_to_desks(cal, report, date_from, date_to, weeks)
    out += _right_size(report, weeks)
    out += _preferred(report, weeks)
    with override(settings.LANGUAGE_CODE):  # stored for the API: the project's language, whoever started the run
        return [{"kind": rec["kind"], "summary": describe(rec["kind"], rec["evidence"]), **rec} for rec in out]


def _add_rooms(cal: SiteCalendar, date_from: date, date_to: date, weeks: float) -> list[dict]:
    from analytics.report import unmet_by_hour

    unmet = unmet_by_hour(cal.site, date_from, date_to)
    demand: dict[str, dict[tuple[date, int], int]] = defaultdict(dict)
    booked: dict[str, dict[tuple[date, int], int]] = defaultdict(dict)
    for day, hour, band, peak in (
        SiteHour.objects.filter(site=cal.site, day__gte=date_from, day__lte=date_to)
        .exclude(band="")
        .values_list("day", "hour", "band", "peak_rooms")
    ):
        key = (day, hour)
        booked[band][key] = max(booked[band].get(key, 0), peak)
    out = []
    for band in SizeBand.values:
        hours = {key: booked[band].get(key, 0) + unmet.get((*key, band), 0) for key in booked[band]}
        refused_total = sum(unmet.get((*key, band), 0) for key in booked[band])
        demand[band] = hours
        top = busiest(hours)
        attempts = [n for _key, n in top]
        if not attempts or sum(attempts) == 0:
            continue
        have = sum(1 for room in cal.rooms if room.is_active and size_band(room.capacity) == band)
        need = rooms_needed(attempts)
        if need <= have:
            continue
        unmet_top = sum(unmet.get((*key, band), 0) for key, _n in top)
        out.append(
            {
                "kind": RecommendationKind.ADD_ROOMS,
                "evidence": {
                    "figures": ["peak_concurrency", "unmet_demand"],
                    "size_band": band,
                    "rooms_now": have,
                    "rooms_needed": need,
                    "add": need - have,
                    "busiest_hours": len(top),
                    "hours_in_period": len(hours),
                    "attempts_in_busiest_hours": sum(attempts),
                    "unmet_in_busiest_hours": unmet_top,
                    "unmet_in_period": refused_total,
                    "refused_share_now": round(refused_share(attempts, have), 4),
                    "refused_share_with_needed": round(refused_share(attempts, need), 4),
                    "target_refused_share": REFUSED_TARGET,
                },
                "confidence": _confidence(weeks, sum(attempts), enough=50),
            }
        )
    return out


def _peak_hours(cal: SiteCalendar, date_from: date, date_to: date) -> list[tuple[datetime, datetime]]:
    hours = dict(
        SiteHour.objects.filter(site=cal.site, band="", day__gte=date_from, day__lte=date_to).values_list(
            "starts_at", "booked_h"
        )
    )
    return [(s, s + timedelta(hours=1)) for s, _b in busiest(hours) if _b > 0]


def _use_at_peak(cal: SiteCalendar, hours: list[tuple[datetime, datetime]]) -> dict[int, tuple[float, float]]:
    """Per room: booked and occupied hours inside the site's busiest hours (one query)."""
    if not hours:
        return {}
    rows = [(sql.ts(s), sql.ts(e), sql.ts(s - cal.look_back)) for s, e in hours]
    query = f"""
        WITH {sql.values("h", ["starts_at", "ends_at", "look_back"], rows)}
        SELECT b.room_id,
          SUM(CASE WHEN b.status IN {sql.HELD}
                   THEN {sql.clipped_hours("b.start", 'b."end"', "h.starts_at", "h.ends_at")} ELSE 0 END),
          SUM(CASE WHEN b.checked_in_at IS NOT NULL AND b.status IN {sql.CHECKED_IN_OR_DONE}
                   THEN {sql.clipped_hours("b.checked_in_at", 'b."end"', "h.starts_at", "h.ends_at")} ELSE 0 END)
        FROM h CROSS JOIN bookings_booking b
        WHERE b.start < h.ends_at AND b."end" > h.starts_at AND b.start >= h.look_back
          AND b.site_id = %s AND b.room_id IS NOT NULL
        GROUP BY b.room_id
    """  # noqa: S608 - analytics.sql literals from our own dates and ids
    return {
        room_id: (float(booked or 0), float(occupied or 0))
        for room_id, booked, occupied in sql.fetch(query, [cal.site.pk])
    }


def _convert_to_desks(cal: SiteCalendar, report: dict, date_from: date, date_to: date, weeks: float) -> list[dict]:
    hours = _peak_hours(cal, date_from, date_to)
    if not hours:
        return []
    use = _use_at_peak(cal, hours)
    out = []
    for row in report["rooms"]:
        if row["suppressed"] or not row["bookable_h"]:
            continue
        booked, occupied = use.get(row["room"], (0.0, 0.0))
        occupancy_at_peak = occupied / len(hours)
        seats = row["seat_utilisation"]
        if occupancy_at_peak >= CONVERT_OCCUPANCY_AT_PEAK or (seats is not None and seats >= CONVERT_SEAT_UTILISATION):
            continue
        out.append(
            {
                "kind": RecommendationKind.CONVERT_TO_DESKS,
                "evidence": {
                    "figures": ["occupancy", "seat_utilisation", "utilisation"],
                    "room": row["room"],
                    "name": row["name"],
                    "capacity": row["capacity"],
                    "busiest_hours": len(hours),
                    "occupancy_at_peak": round(occupancy_at_peak, 4),
                    "utilisation_at_peak": round(booked / len(hours), 4),
                    "occupancy": row["occupancy"],
                    "utilisation": row["utilisation"],
                    "seat_utilisation": seats,
                },
                "confidence": _confidence(weeks, len(hours), enough=40),
            }
        )
    return out


def _right_size(report: dict, weeks: float) -> list[dict]:
    from analytics.report import percentile

    out = []
    for row in report["rooms"]:
        if row["suppressed"] or not row.get("sizes") or (row["held"] or 0) < RIGHT_SIZE_MIN_BOOKINGS:
            continue
        sizes = {int(k): v for k, v in row["sizes"].items()}
        p90 = percentile(sizes, 0.9)
        median = percentile(sizes, 0.5)
        fits = size_band(p90)
        if p90 * 2 > row["capacity"] or fits == size_band(row["capacity"]):
            continue
        out.append(
            {
                "kind": RecommendationKind.RIGHT_SIZE,
                "evidence": {
                    "figures": ["seat_utilisation", "meeting sizes"],
                    "room": row["room"],
                    "name": row["name"],
                    "capacity": row["capacity"],
                    "median_people": median,
                    "p90_people": p90,
                    "suggested_band": fits,
                    "seat_utilisation": row["seat_utilisation"],
                    "bookings": row["held"],
                },
                "confidence": _confidence(weeks, row["held"], enough=100),
            }
        )
    return out


def _preferred(report: dict, weeks: float) -> list[dict]:
    """Per size band with a choice of rooms: the room booked most often while another room of its band was free,
    when that is clearly more (by ``PREFERRED_MARGIN``) than the band's average room."""
    by_band: dict[str, list[dict]] = defaultdict(list)
    for row in report["rooms"]:
        if not row["suppressed"] and (row.get("held") or 0) >= PREFERRED_MIN_BOOKINGS:
            by_band[size_band(row["capacity"])].append(row)
    out = []
    for band, rows in sorted(by_band.items()):
        if len(rows) < 2:
            continue
        mean = sum(r["preferred"] for r in rows) / len(rows)
        best = max(rows, key=lambda r: (r["preferred"], -r["room"]))
        if not mean or best["preferred"] < PREFERRED_MARGIN * mean:
            continue
        share = best["preferred"] / best["held"]
        out.append(
            {
                "kind": RecommendationKind.PREFERRED,
                "evidence": {
                    "figures": ["preferred"],
                    "room": best["room"],
                    "name": best["name"],
                    "size_band": band,
                    "preferred": best["preferred"],
                    "band_average_preferred": round(mean, 2),
                    "rooms_in_band": len(rows),
                    "bookings": best["held"],
                    "share": round(share, 4),
                },
                "confidence": _confidence(weeks, best["preferred"], enough=100),
            }
        )
    return out
