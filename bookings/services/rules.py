"""Booking rules: the one place they are checked (opening hours, notice, advance, duration, capacity, the site's
closure days, the company's weekly room quota). A broken rule is a RuleViolation (422) naming the rule."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookings import db
from bookings.choices import (
    HOLDING_STATUSES,
)
from bookings.models import Booking, BookingPolicy, Closure, Desk, Room
from labs.dates import long_day
from labs.errors import RuleViolation
from labs.models import Company, Person, Site
from labs.prepared import CompiledRows

if TYPE_CHECKING:
    from bookings.selectors import ClosuresRead

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EffectiveRules:
    """The rules that apply to one resource: the room's own where it sets one, else its site's policy."""

    opens_at: time
    closes_at: time
    min_duration: timedelta
    max_duration: timedelta
    max_days_ahead: int
    min_notice: timedelta
    company_weekly_room_hours: int | None
    capacity: int | None


def policy_for(site: Site) -> BookingPolicy:
    try:
        return site.booking_policy
    except BookingPolicy.DoesNotExist:
        return BookingPolicy(site=site)  # the defaults, unsaved


def rules_for(*, room: Room | None = None, desk: Desk | None = None) -> EffectiveRules:
    resource = room or desk
    policy = policy_for(resource.site)

    def pick(name: str):
        value = getattr(room, name, None) if room is not None else None
        return getattr(policy, name) if value is None else value

    return EffectiveRules(
        opens_at=pick("opens_at"),
        closes_at=pick("closes_at"),
        min_duration=timedelta(minutes=pick("min_duration_minutes")),
        # A desk may be held for the whole bookable day; the maximum duration is a room rule.
        max_duration=timedelta(minutes=pick("max_duration_minutes")) if room is not None else timedelta(days=1),
        max_days_ahead=pick("max_days_ahead"),
        min_notice=timedelta(minutes=pick("min_notice_minutes")),
        company_weekly_room_hours=policy.company_weekly_room_hours if room is not None else None,
        capacity=room.capacity if room is not None else None,
    )


def local_days(start: datetime, end: datetime, tz) -> set[date]:
    """The local days (in ``tz``) that [start, end) touches."""
    days: set[date] = set()
    day, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        days.add(day)
        day += timedelta(days=1)
    return days


def closed_days(
    site: Site, intervals: Sequence[tuple[datetime, datetime]], *, read: ClosuresRead | None = None
) -> dict[date, str]:
    """The site's closure days (bookings.models.Closure: day -> reason) among the local days the intervals touch, in
    one indexed query; none if ``read`` (the closure days read with the room or desk, bookings.selectors.bookable_get)
    covers those days."""
    days: set[date] = set()
    for start, end in intervals:
        days |= local_days(start, end, site.tz)
    if not days:
        return {}
    if read is not None and read.covers(days):
        return {day: reason for day, reason in read.days.items() if day in days}
    if len(days) == 1:  # most bookings: one day, its SQL built once (labs.prepared)
        return dict(_CLOSURE_ON.rows(site=site.pk, day=days.pop()))
    # order_by(): the model orders by site (its name: a join) and day, which a dict does not need.
    return dict(Closure.objects.filter(site=site, day__in=sorted(days)).order_by().values_list("day", "reason"))


_CLOSURE_ON = CompiledRows(
    lambda site, day: Closure.objects.filter(site_id=site, day=day).order_by().values_list("day", "reason"),
    site=int,
    day=date,
)


def closure_check(
    site: Site, intervals: Sequence[tuple[datetime, datetime]], *, closed: Mapping[date, str] | None = None
) -> None:
    """Rule ``closed``: nothing is booked or walked into on a local day the site is closed (bookings.models.Closure).
    ``closed``: the closure days among the intervals' days, when the caller has read them (:func:`closed_days`)."""
    closed = closed_days(site, intervals) if closed is None else closed
    if closed:
        day = min(closed)
        words = {"site": site.name, "day": long_day(day), "reason": closed[day]}
        if closed[day]:
            detail = _("%(site)s is closed on %(day)s (%(reason)s).")
        else:
            detail = _("%(site)s is closed on %(day)s.")
        raise violation("closed", detail % words, days=[str(d) for d in sorted(closed)])


def span(length: timedelta) -> str:
    """A rule's length in words of the active language: "5 days", "2 hours", "90 minutes"."""
    minutes = int(length.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def violation(rule: str, detail: str, **extra) -> RuleViolation:
    return RuleViolation(detail, extra={"rule": rule, **extra})


def booking_rules_check(
    *,
    room: Room | None,
    desk: Desk | None,
    organiser: Person,
    intervals: Sequence[tuple[datetime, datetime]],
    attendees: Sequence[str] = (),
    now: datetime | None = None,
    exclude_ids: Iterable[int] = (),
    lock: bool = True,
    quota: bool = True,
    closed: Mapping[date, str] | None = None,
) -> None:
    """The one place booking rules are checked; raises RuleViolation (422) naming the first broken rule.

    ``intervals`` are the bookings to make (one, or a series' occurrences); the weekly quota counts them together
    with the company's existing bookings. ``closed``: the site's closure days among the intervals' local days, when
    the caller has read them already (:func:`closed_days`, once for many resources of one site).
    """
    now = now or timezone.now()
    rules = rules_for(room=room, desk=desk)
    tz = (room or desk).site.tz
    if rules.capacity is not None:
        people = len({a.lower() for a in attendees} | {(organiser.user.email or f"#{organiser.pk}").lower()})
        if people > rules.capacity:
            words = {"people": people, "capacity": rules.capacity}
            raise violation("capacity", _("%(people)d people do not fit in a room for %(capacity)d.") % words)
    for start, end in intervals:
        when = start.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        if start < now:
            raise violation("in_past", _("The booking at %(when)s starts in the past.") % {"when": when})
        if start < now + rules.min_notice:
            words = {"span": span(rules.min_notice), "when": when}
            raise violation("min_notice", _("Book at least %(span)s ahead (%(when)s).") % words)
        if start > now + timedelta(days=rules.max_days_ahead):
            words = {"span": span(timedelta(days=rules.max_days_ahead)), "when": when}
            raise violation("max_days_ahead", _("Bookings open %(span)s ahead (%(when)s).") % words)
        duration = end - start
        if duration < rules.min_duration:
            words = {"span": span(rules.min_duration), "when": when}
            raise violation("min_duration", _("A booking lasts at least %(span)s (%(when)s).") % words)
        if duration > rules.max_duration:
            words = {"span": span(rules.max_duration), "when": when}
            raise violation("max_duration", _("A booking lasts at most %(span)s (%(when)s).") % words)
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        closes = datetime.combine(local_start.date(), rules.closes_at, tzinfo=tz)
        if local_start.time() < rules.opens_at or local_end > closes:
            words = {"opens": f"{rules.opens_at:%H:%M}", "closes": f"{rules.closes_at:%H:%M}", "when": when}
            raise violation("bookable_hours", _("Bookable %(opens)s-%(closes)s local time (%(when)s).") % words)
    site = (room or desk).site
    closure_check(site, intervals, closed=closed)
    if quota and rules.company_weekly_room_hours is not None and organiser.company_id:
        _check_weekly_quota(
            company_id=organiser.company_id,
            site=(room or desk).site,
            quota_hours=rules.company_weekly_room_hours,
            intervals=intervals,
            exclude_ids=exclude_ids,
            lock=lock,
        )


def booking_refusals(
    *,
    resources: Iterable[Room | Desk],
    organiser: Person,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    closed: Mapping[date, str] | None = None,
) -> dict[tuple[str, int], RuleViolation]:
    """Which of ``resources`` the rules refuse to ``organiser`` for [start, end), with the rule's violation: the same
    :func:`booking_rules_check` as creating the booking, and for desks the one desk a person holds at a time (rule
    ``one_desk``; booking_create refuses it as an overlap). No other overlap check: the caller shows only free ones.
    Read only: the weekly quota is counted without its row lock. Keys are ``("room" | "desk", pk)``. ``closed``: the
    closure days of the resources' one site, when the caller read them already (a day asked hour by hour)."""
    now = now or timezone.now()
    refused: dict[tuple[str, int], RuleViolation] = {}
    sites: dict[int, Site] = {}
    closures: dict[int, dict[date, str]] = {}
    quota_refusal: dict[int, RuleViolation | None] = {}
    resources = list(resources)
    held_desk = None
    if any(isinstance(r, Desk) for r in resources):
        # One desk per person at a time: the same condition as the overlap check of booking_create (conflicts.py).
        held_desk = (
            Booking.objects.filter(db.booked_overlaps(start, end), organiser=organiser, desk__isnull=False)
            .select_related("desk")
            .order_by("start")
            .first()
        )
    for resource in resources:
        if held_desk is not None and isinstance(resource, Desk) and resource.pk != held_desk.desk_id:
            refused[("desk", resource.pk)] = violation(
                "one_desk",
                _("You already hold desk %(label)s then: one desk at a time.") % {"label": held_desk.desk.label},
            )
            continue
        # One policy read per site, not per resource (each select_related row has its own Site instance).
        resource.site = sites.setdefault(resource.site_id, resource.site)
        if resource.site_id not in closures:  # the site's closure days, read once for all its rooms and desks
            closures[resource.site_id] = closed_days(resource.site, [(start, end)]) if closed is None else closed
        is_room = isinstance(resource, Room)
        key = ("room" if is_room else "desk", resource.pk)
        try:
            booking_rules_check(
                room=resource if is_room else None,
                desk=None if is_room else resource,
                organiser=organiser,
                intervals=[(start, end)],
                now=now,
                lock=False,
                quota=False,
                closed=closures[resource.site_id],
            )
        except RuleViolation as exc:
            refused[key] = exc
            continue
        rules = rules_for(room=resource) if is_room else None
        if rules is None or rules.company_weekly_room_hours is None or not organiser.company_id:
            continue
        if resource.site_id not in quota_refusal:  # the quota is the site's: counted once for all its rooms
            try:
                _check_weekly_quota(
                    company_id=organiser.company_id,
                    site=resource.site,
                    quota_hours=rules.company_weekly_room_hours,
                    intervals=[(start, end)],
                    exclude_ids=(),
                    lock=False,
                )
                quota_refusal[resource.site_id] = None
            except RuleViolation as exc:
                quota_refusal[resource.site_id] = exc
        if quota_refusal[resource.site_id] is not None:
            refused[key] = quota_refusal[resource.site_id]
    return refused


def _week_start(moment: datetime, tz) -> datetime:
    local = moment.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=tz)


def _check_weekly_quota(*, company_id, site, quota_hours, intervals, exclude_ids, lock: bool = True) -> None:
    tz = site.tz
    if lock:  # Serialise quota checks of one company: two requests cannot both take the last free hour.
        Company.objects.select_for_update().filter(pk=company_id).first()
    wanted: dict[datetime, timedelta] = defaultdict(timedelta)
    for start, end in intervals:
        wanted[_week_start(start, tz)] += end - start
    quota = timedelta(hours=quota_hours)
    for week, extra in sorted(wanted.items()):
        week_end = datetime.combine(week.date() + timedelta(days=7), time(0), tzinfo=tz)
        used = sum(
            (
                end - start
                for start, end in Booking.objects.filter(
                    company_id=company_id,
                    room__isnull=False,
                    status__in=HOLDING_STATUSES,
                    start__gte=week,
                    start__lt=week_end,
                )
                .exclude(pk__in=list(exclude_ids))
                .values_list("start", "end")
            ),
            timedelta(),
        )
        if used + extra > quota:
            left = max(quota - used, timedelta())
            words = {
                "left": number_format(round(left.total_seconds() / 3600, 2)),
                "quota": number_format(quota_hours),
                "week": f"{week:%Y-%m-%d}",
            }
            detail = _("Your company has %(left)s of its %(quota)s weekly room hours left in the week of %(week)s.")
            raise violation("company_weekly_quota", detail % words)
