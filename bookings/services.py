"""Every state change of bookings: create (single or recurring), re-time, cancel, check in, release, desk presence.

No two holding bookings of a room or desk overlap. On PostgreSQL the exclusion constraints (migration 0003) are the
check: a single booking is inserted straight away and, when a constraint refuses it (SQLSTATE 23P01), the holder is
looked up after the error and the API answers 409 ``conflict`` naming its interval, never a 500. Series, re-timing
and desk walk-ins still look first (they need the dates, or pick an end from the next booking), and the constraint
still has the last word. On SQLite (no constraint) the service looks for an overlap inside an IMMEDIATE transaction
(settings), so the check and the insert run under the database's write lock and cannot interleave.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from bookings import db, recurrence
from bookings.choices import (
    HOLDING_STATUSES,
    OPEN_STATUSES,
    BookingSource,
    BookingStatus,
    CancelScope,
    SeriesStatus,
)
from bookings.models import MAX_ATTENDEES, Booking, BookingPolicy, BookingSeries, CalendarFeed, Desk, Room
from labs.errors import Conflict, Forbidden, Invalid, NotFound, RuleViolation
from labs.models import Company, Person, Site
from labs.permissions import is_staff
from labs.transactions import enqueue_after_commit

logger = logging.getLogger(__name__)

CHECK_IN_AHEAD = timedelta(minutes=15)  # check-in opens this long before a booking starts
MISSES_BEFORE_SERIES_ENDS = 3
EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
DEADLOCK_ATTEMPTS = 3
# Relations the services hold as loaded objects: full_clean() need not query each one again to see that it exists
# (the foreign keys still guarantee it). The uniqueness of uid is the database's; the overlap rule is checked here.
_RESOLVED_RELATIONS = ["site", "room", "desk", "organiser", "company", "created_by", "series"]


# --- Rules -------------------------------------------------------------------------------------------------------


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


def _violation(rule: str, detail: str, **extra) -> RuleViolation:
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
) -> None:
    """The one place booking rules are checked; raises RuleViolation (422) naming the first broken rule.

    ``intervals`` are the bookings to make (one, or a series' occurrences); the weekly quota counts them together
    with the company's existing bookings.
    """
    now = now or timezone.now()
    rules = rules_for(room=room, desk=desk)
    tz = (room or desk).site.tz
    if rules.capacity is not None:
        people = len({a.lower() for a in attendees} | {(organiser.user.email or f"#{organiser.pk}").lower()})
        if people > rules.capacity:
            raise _violation("capacity", f"{people} people do not fit in a room for {rules.capacity}.")
    for start, end in intervals:
        when = start.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        if start < now:
            raise _violation("in_past", f"The booking at {when} starts in the past.")
        if start < now + rules.min_notice:
            minutes = int(rules.min_notice.total_seconds() // 60)
            raise _violation("min_notice", f"Book at least {minutes} minutes ahead ({when}).")
        if start > now + timedelta(days=rules.max_days_ahead):
            raise _violation("max_days_ahead", f"Bookings open {rules.max_days_ahead} days ahead ({when}).")
        duration = end - start
        if duration < rules.min_duration:
            raise _violation("min_duration", f"A booking lasts at least {rules.min_duration} ({when}).")
        if duration > rules.max_duration:
            raise _violation("max_duration", f"A booking lasts at most {rules.max_duration} ({when}).")
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        closes = datetime.combine(local_start.date(), rules.closes_at, tzinfo=tz)
        if local_start.time() < rules.opens_at or local_end > closes:
            raise _violation(
                "bookable_hours",
                f"Bookable {rules.opens_at:%H:%M}-{rules.closes_at:%H:%M} local time ({when}).",
            )
    if rules.company_weekly_room_hours is not None and organiser.company_id:
        _check_weekly_quota(
            company_id=organiser.company_id,
            site=(room or desk).site,
            quota_hours=rules.company_weekly_room_hours,
            intervals=intervals,
            exclude_ids=exclude_ids,
        )


def _week_start(moment: datetime, tz) -> datetime:
    local = moment.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=tz)


def _check_weekly_quota(*, company_id, site, quota_hours, intervals, exclude_ids) -> None:
    tz = site.tz
    # Serialise quota checks of one company: two requests cannot both take the last free hour.
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
            raise _violation(
                "company_weekly_quota",
                f"Your company has {left} of its {quota_hours} weekly room hours left in the week of {week:%Y-%m-%d}.",
            )


# --- Conflicts ---------------------------------------------------------------------------------------------------


def _held_until(*, room: Room | None, end: datetime) -> datetime:
    return end + timedelta(minutes=room.buffer_minutes) if room is not None else end


def _describe(booking: Booking, tz) -> dict:
    return {
        "booking_start": booking.start.astimezone(tz).isoformat(),
        "booking_end": booking.end.astimezone(tz).isoformat(),
        "held_until": booking.hold_end.astimezone(tz).isoformat(),
        "resource": "room" if booking.room_id else "desk",
    }


def _conflicting(
    *, room: Room | None, desk: Desk | None, organiser: Person, start: datetime, end: datetime, exclude_ids=()
) -> QuerySet[Booking]:
    """Holding bookings that a new booking [start, end) of this resource by ``organiser`` would overlap.

    On PostgreSQL each branch is answered by its exclusion constraint's GiST index (see bookings/db.py).
    """
    hold_end = _held_until(room=room, end=end)
    holding = Booking.objects.exclude(pk__in=list(exclude_ids)) if exclude_ids else Booking.objects.all()
    if room is not None:
        condition = Q(db.held_overlaps(start, hold_end), room=room)
    else:
        condition = Q(db.held_overlaps(start, end), desk=desk)
        # one desk per person at a time
        condition |= Q(db.booked_overlaps(start, end), organiser=organiser, desk__isnull=False)
    return holding.filter(condition).order_by("start")


def _conflict_error(
    conflicts: Sequence[Booking], *, tz, desk: Desk | None = None, dates: Sequence[str] = ()
) -> Conflict:
    if not conflicts:
        return Conflict("This overlaps a booking made at the same moment; pick another time.")
    first = conflicts[0]
    label = "You already hold a desk" if desk is not None and first.desk_id != desk.pk else "It is already booked"
    local_start, local_end = first.start.astimezone(tz), first.hold_end.astimezone(tz)
    detail = f"{label} {local_start:%Y-%m-%d %H:%M}-{local_end:%H:%M} ({tz.key})."
    extra = {"conflicts": [_describe(b, tz) for b in conflicts[:20]]}
    if dates:
        extra["dates"] = list(dates)
        detail = f"{len(dates)} occurrence(s) conflict: {', '.join(dates[:10])}."
    return Conflict(detail, extra=extra)


def _is_overlap_violation(exc: IntegrityError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == EXCLUSION_VIOLATION


def _retry_on_deadlock(func):
    """Run the write again when PostgreSQL broke a deadlock by aborting it.

    Two inserts whose intervals overlap each other's *uncommitted* rows each wait for the other's transaction while
    checking the exclusion constraint; PostgreSQL aborts one with SQLSTATE 40P01. The victim's work was rolled back,
    so it simply runs again: by then the survivor has committed (a clean 409) or been refused itself (a 201).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for _attempt in range(DEADLOCK_ATTEMPTS):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK_DETECTED:
                    raise
                logger.info("booking write was a deadlock victim; running it again")
        raise Conflict("This overlaps bookings being made at the same moment; try again.")

    return wrapper


# --- Create ------------------------------------------------------------------------------------------------------


def _normalise_attendees(attendees: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in attendees or ():
        if not isinstance(raw, str):
            raise Invalid("Attendees are e-mail addresses.", extra={"attendees": ["Give e-mail addresses."]})
        email = raw.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid(
                f"{raw!r} is not an e-mail address.", extra={"attendees": [f"{raw!r} is not valid."]}
            ) from None
        seen[email] = None
    if len(seen) > MAX_ATTENDEES:
        raise Invalid(f"At most {MAX_ATTENDEES} attendees.")
    return list(seen)


@dataclass
class _Request:
    """A checked booking request: who books what, for whom, by which path."""

    actor: Person
    organiser: Person
    room: Room | None
    desk: Desk | None
    source: str
    override_reason: str
    attendees: list[str]
    title: str

    @property
    def resource(self) -> Room | Desk:
        return self.room or self.desk

    @property
    def site(self) -> Site:
        return self.resource.site


def _prepare(
    *,
    actor: Person,
    room: Room | None,
    desk: Desk | None,
    organiser: Person | None,
    source: str,
    override_reason: str,
    attendees: Iterable[str],
    title: str,
) -> _Request:
    if (room is None) == (desk is None):
        raise Invalid("Book either a room or a desk.", extra={"room": ["Give a room or a desk, not both."]})
    resource = room or desk
    if not resource.is_active:
        raise Invalid(f"{resource} is not bookable.")
    organiser = organiser or actor
    if organiser.pk != actor.pk:
        if not is_staff(actor):
            raise Forbidden("Only staff may book on someone else's behalf.")
        if organiser.site_id != actor.site_id or not organiser.user.is_active:
            raise NotFound("No such person.")
        if source in {BookingSource.API, BookingSource.PORTAL}:
            source = BookingSource.STAFF
    override_reason = (override_reason or "").strip()
    if override_reason and not is_staff(actor):
        raise Forbidden("Only staff may override the booking rules.")
    if desk is not None and attendees:
        raise Invalid("A desk booking has no attendees.", extra={"attendees": ["Desks are for one person."]})
    return _Request(
        actor=actor,
        organiser=organiser,
        room=room,
        desk=desk,
        source=source,
        override_reason=override_reason,
        attendees=_normalise_attendees(attendees),
        title=(title or "").strip()[:200],
    )


def _check_times(start: datetime, end: datetime) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise Invalid("Give start and end with a UTC offset.")
    if end <= start:
        raise Invalid("A booking must end after it starts.", extra={"end": ["Must be after start."]})


def _new_booking(req: _Request, *, start: datetime, end: datetime, **fields) -> Booking:
    booking = Booking(
        site=req.site,
        room=req.room,
        desk=req.desk,
        organiser=req.organiser,
        company_id=req.organiser.company_id,
        created_by=req.actor,
        title=req.title,
        attendees=req.attendees,
        start=start,
        end=end,
        hold_end=_held_until(room=req.room, end=end),
        source=req.source,
        override_reason=req.override_reason,
        **fields,
    )
    booking.full_clean(exclude=_RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
    return booking


def _write_transaction(*, locks: bool):
    """The transaction a single booking's check and insert run in.

    SQLite: always one IMMEDIATE transaction (the check and the insert under the write lock). PostgreSQL: the
    exclusion constraint makes check-then-insert safe on its own, so outside any transaction the INSERT simply
    autocommits (saving the BEGIN and COMMIT round trips); inside one it gets a savepoint, so that a refused INSERT
    leaves the caller's transaction usable; and a quota check needs a transaction for its row lock.
    """
    if db.uses_ranges() and not locks and not transaction.get_connection().in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic()


@_retry_on_deadlock
def booking_create(
    *,
    actor: Person,
    start: datetime,
    end: datetime,
    room: Room | None = None,
    desk: Desk | None = None,
    organiser: Person | None = None,
    title: str = "",
    attendees: Iterable[str] = (),
    source: str = BookingSource.API,
    override_reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """Book a room or desk for [start, end). 409 Conflict on overlap, 422 RuleViolation on a broken rule.

    Staff may book for ``organiser`` and, with an ``override_reason``, past the rules (the reason is recorded).
    """
    req = _prepare(
        actor=actor,
        room=room,
        desk=desk,
        organiser=organiser,
        source=source,
        override_reason=override_reason,
        attendees=attendees,
        title=title,
    )
    _check_times(start, end)
    quota = not req.override_reason and rules_for(room=req.room, desk=req.desk).company_weekly_room_hours is not None
    try:
        with _write_transaction(locks=quota):
            if not req.override_reason:
                booking_rules_check(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    intervals=[(start, end)],
                    attendees=req.attendees,
                    now=now,
                )
            if not db.uses_ranges():  # SQLite: the check is the rule, under the IMMEDIATE write lock
                conflicts = list(
                    _conflicting(room=req.room, desk=req.desk, organiser=req.organiser, start=start, end=end)[:20]
                )
                if conflicts:
                    raise _conflict_error(conflicts, tz=req.site.tz, desk=req.desk)
            # PostgreSQL: the exclusion constraints are the check; a refusal is looked up below for the message.
            booking = _new_booking(req, start=start, end=end)
            booking.save(force_insert=True)
    except IntegrityError as exc:
        if not _is_overlap_violation(exc):
            raise
        # The constraint refused ours (on SQLite this cannot happen): name what holds the slot.
        logger.info(
            "booking refused by the exclusion constraint %s", getattr(exc.__cause__.diag, "constraint_name", "")
        )
        conflicts = list(_conflicting(room=req.room, desk=req.desk, organiser=req.organiser, start=start, end=end)[:20])
        raise _conflict_error(conflicts, tz=req.site.tz, desk=req.desk) from None
    return booking


@dataclass
class SeriesResult:
    series: BookingSeries
    bookings: list[Booking]
    skipped: list[str] = field(default_factory=list)  # local start dates of occurrences not booked


@_retry_on_deadlock
def booking_series_create(
    *,
    actor: Person,
    start: datetime,
    end: datetime,
    rrule: str,
    room: Room | None = None,
    desk: Desk | None = None,
    organiser: Person | None = None,
    title: str = "",
    attendees: Iterable[str] = (),
    skip_conflicts: bool = False,
    source: str = BookingSource.RECURRENCE,
    override_reason: str = "",
    now: datetime | None = None,
) -> SeriesResult:
    """Book a recurring series: [start, end) repeated by an RFC 5545 RRULE in the site's local time.

    If any occurrence conflicts the series is refused (409, listing the local dates), unless ``skip_conflicts``: then
    the free occurrences are booked and the conflicting ones reported in ``skipped``.
    """
    req = _prepare(
        actor=actor,
        room=room,
        desk=desk,
        organiser=organiser,
        source=source,
        override_reason=override_reason,
        attendees=attendees,
        title=title,
    )
    _check_times(start, end)
    tz = req.site.tz
    occurrences = recurrence.expand(rrule, first_start=start, duration=end - start, tz=tz)
    try:
        with transaction.atomic():
            intervals = [(o.start, o.end) for o in occurrences]
            if not req.override_reason:
                booking_rules_check(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    intervals=intervals,
                    attendees=req.attendees,
                    now=now,
                )
            existing = list(
                _conflicting(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    start=occurrences[0].start,
                    end=occurrences[-1].end,
                )
            )
            free, clashing, clashes = [], [], []
            for occ in occurrences:
                hold_end = _held_until(room=req.room, end=occ.end)
                hits = [b for b in existing if _overlaps_existing(b, req, occ.start, occ.end, hold_end)]
                if hits:
                    clashing.append(occ)
                    clashes.extend(hits)
                else:
                    free.append(occ)
            dates = [o.start.astimezone(tz).strftime("%Y-%m-%d") for o in clashing]
            if clashing and not skip_conflicts or not free:
                raise _conflict_error(clashes, tz=tz, desk=req.desk, dates=dates)
            series = BookingSeries(
                site=req.site,
                room=req.room,
                desk=req.desk,
                organiser=req.organiser,
                created_by=req.actor,
                title=req.title,
                attendees=req.attendees,
                rrule=rrule.strip().upper().removeprefix("RRULE:"),
                first_start=start,
                duration_minutes=int((end - start).total_seconds() // 60),
                timezone=tz.key,
            )
            series.full_clean(exclude=_RESOLVED_RELATIONS)
            series.save()
            bookings = [_new_booking(req, start=o.start, end=o.end, series=series, recurrence_id=o.start) for o in free]
            Booking.objects.bulk_create(bookings)
    except IntegrityError as exc:
        if not _is_overlap_violation(exc):
            raise
        raise Conflict("An occurrence was booked by someone else at the same moment; try again.") from None
    return SeriesResult(series=series, bookings=bookings, skipped=dates)


def _overlaps_existing(existing: Booking, req: _Request, start: datetime, end: datetime, hold_end: datetime) -> bool:
    if req.room is not None:
        return existing.room_id == req.room.pk and existing.start < hold_end and existing.hold_end > start
    same_desk = existing.desk_id == req.desk.pk and existing.start < end and existing.hold_end > start
    same_person = existing.organiser_id == req.organiser.pk and existing.start < end and existing.end > start
    return same_desk or same_person


# --- Change ------------------------------------------------------------------------------------------------------


def _require_manager(actor: Person, booking: Booking) -> None:
    """Organiser or staff of the booking's site; anyone else is told it does not exist."""
    if booking.organiser_id == actor.pk:
        return
    if is_staff(actor) and actor.site_id == booking.site_id:
        return
    raise NotFound("No such booking.")


@_retry_on_deadlock
def booking_update(
    *,
    actor: Person,
    booking: Booking,
    start: datetime | None = None,
    end: datetime | None = None,
    title: str | None = None,
    attendees: Iterable[str] | None = None,
    override_reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """Re-time or edit a booking under the same rules and conflict checks as creating it.

    Re-timing one occurrence of a series moves only that occurrence (it keeps its RECURRENCE-ID).
    """
    _require_manager(actor, booking)
    now = now or timezone.now()
    if booking.status not in OPEN_STATUSES:
        raise Conflict(f"This booking is {booking.get_status_display().lower()} and cannot change.")
    new_start = start or booking.start
    new_end = end or booking.end
    _check_times(new_start, new_end)
    if booking.status == BookingStatus.CHECKED_IN and new_start != booking.start:
        raise Invalid("A checked-in booking keeps its start; change its end instead.")
    override_reason = (override_reason or "").strip()
    if override_reason and not is_staff(actor):
        raise Forbidden("Only staff may override the booking rules.")
    new_attendees = _normalise_attendees(attendees) if attendees is not None else booking.attendees
    if booking.desk_id and new_attendees:
        raise Invalid("A desk booking has no attendees.", extra={"attendees": ["Desks are for one person."]})
    retimed = (new_start, new_end) != (booking.start, booking.end)
    tz = booking.site.tz
    try:
        with transaction.atomic():
            locked = Booking.objects.select_for_update().get(pk=booking.pk)
            if locked.status not in OPEN_STATUSES:
                raise Conflict("This booking changed meanwhile; reload it.")
            if not override_reason and (retimed or attendees is not None):
                booking_rules_check(
                    room=booking.room,
                    desk=booking.desk,
                    organiser=booking.organiser,
                    intervals=[(new_start, new_end)] if retimed else [],
                    attendees=new_attendees,
                    now=now,
                    exclude_ids=[booking.pk],
                )
            if retimed:
                conflicts = list(
                    _conflicting(
                        room=booking.room,
                        desk=booking.desk,
                        organiser=booking.organiser,
                        start=new_start,
                        end=new_end,
                        exclude_ids=[booking.pk],
                    )[:20]
                )
                if conflicts:
                    raise _conflict_error(conflicts, tz=tz, desk=booking.desk)
            booking.start, booking.end = new_start, new_end
            booking.hold_end = _held_until(room=booking.room, end=new_end)
            booking.attendees = new_attendees
            if title is not None:
                booking.title = title.strip()[:200]
            if retimed:
                booking.sequence += 1
                booking.is_moved = booking.series_id is not None or booking.is_moved
            if override_reason:
                booking.override_reason = override_reason
            booking.full_clean(exclude=_RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
            booking.save()
    except IntegrityError as exc:
        if not _is_overlap_violation(exc):
            raise
        conflicts = list(
            _conflicting(
                room=booking.room,
                desk=booking.desk,
                organiser=booking.organiser,
                start=new_start,
                end=new_end,
                exclude_ids=[booking.pk],
            )[:20]
        )
        raise _conflict_error(conflicts, tz=tz, desk=booking.desk) from None
    return booking


@transaction.atomic
def booking_cancel(
    *, actor: Person, booking: Booking, scope: str = CancelScope.ONE, now: datetime | None = None
) -> int:
    """Cancel a booking, or for an occurrence of a series this-and-following or all. Returns how many changed.

    A confirmed booking becomes cancelled; one in progress (checked in) ends now and is completed. Past, released
    and already cancelled bookings are left as they are, so cancelling twice changes nothing.
    """
    _require_manager(actor, booking)
    now = now or timezone.now()
    if scope not in CancelScope.values:
        raise Invalid(f"scope must be one of {', '.join(CancelScope.values)}.")
    if booking.series_id is None or scope == CancelScope.ONE:
        targets = Booking.objects.filter(pk=booking.pk)
    elif scope == CancelScope.FOLLOWING:
        targets = Booking.objects.filter(series_id=booking.series_id, start__gte=booking.start)
    else:
        targets = Booking.objects.filter(series_id=booking.series_id, end__gt=now)
    changed = _cancel_queryset(targets, now=now)
    if booking.series_id and scope != CancelScope.ONE:
        remaining = booking.series.occurrences.filter(status__in=OPEN_STATUSES, end__gt=now).exists()
        if scope == CancelScope.ALL or not remaining:
            BookingSeries.objects.filter(pk=booking.series_id).update(status=SeriesStatus.CANCELLED)
    booking.refresh_from_db()
    return changed


def _cancel_queryset(targets: QuerySet[Booking], *, now: datetime) -> int:
    not_started = Q(status=BookingStatus.CONFIRMED) | Q(status=BookingStatus.CHECKED_IN, start__gt=now)
    changed = targets.filter(not_started).update(
        status=BookingStatus.CANCELLED, cancelled_at=now, sequence=F("sequence") + 1, updated_at=now
    )
    for running in targets.filter(status=BookingStatus.CHECKED_IN, start__lte=now, end__gt=now):
        running.end = max(now, running.start + timedelta(minutes=1))
        running.hold_end = _held_until(room=running.room, end=running.end)
        running.status = BookingStatus.COMPLETED
        running.sequence += 1
        running.save(update_fields=["end", "hold_end", "status", "sequence", "updated_at"])
        changed += 1
    return changed


# --- Check-in, release -------------------------------------------------------------------------------------------


def _may_check_in(actor: Person, booking: Booking) -> bool:
    if booking.organiser_id == actor.pk:
        return True
    email = (actor.user.email or "").lower()
    return bool(email) and email in {a.lower() for a in booking.attendees}


def booking_check_in(*, actor: Person, booking: Booking, at: datetime | None = None) -> Booking:
    """The organiser or an attendee checks the booking in, from 15 minutes before its start until the release.

    Idempotent: checking in a checked-in booking returns it unchanged.
    """
    if not _may_check_in(actor, booking):
        raise NotFound("No such booking.")
    at = at or timezone.now()
    return _check_in(booking, at=at)


def _check_in(booking: Booking, *, at: datetime, ahead: timedelta = CHECK_IN_AHEAD) -> Booking:
    if booking.status == BookingStatus.CHECKED_IN:
        return booking
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(f"This booking is {booking.get_status_display().lower()}; book again.")
    if at < booking.start - ahead:
        minutes = int(ahead.total_seconds() // 60)
        raise _violation("check_in_window", f"Check-in opens {minutes} minutes before the booking starts.")
    if at >= booking.end:
        raise _violation("check_in_window", "This booking has ended.")
    updated = Booking.objects.filter(pk=booking.pk, status=BookingStatus.CONFIRMED).update(
        status=BookingStatus.CHECKED_IN, checked_in_at=at, updated_at=timezone.now()
    )
    booking.refresh_from_db()
    if not updated and booking.status != BookingStatus.CHECKED_IN:
        raise Conflict(f"This booking is {booking.get_status_display().lower()}; book again.")
    return booking


def bookings_release_no_shows(*, now: datetime | None = None) -> list[int]:
    """Release confirmed bookings not checked in within their site's grace period; returns the released ids.

    Each release is a conditional ``UPDATE ... WHERE status = 'confirmed'``, so running twice (or beside a check-in)
    changes nothing more. A series whose last three past occurrences were all released loses its future ones.
    """
    now = now or timezone.now()
    released: list[int] = []
    for site_id, grace in Site.objects.values_list("id", "check_in_grace_minutes"):
        cutoff = now - timedelta(minutes=grace)
        with transaction.atomic():
            candidates = list(
                Booking.objects.filter(site_id=site_id, status=BookingStatus.CONFIRMED, start__lte=cutoff)
                .order_by("start")
                .values_list("pk", flat=True)[:5000]
            )
            if not candidates:
                continue
            Booking.objects.filter(pk__in=candidates, status=BookingStatus.CONFIRMED).update(
                status=BookingStatus.RELEASED, released_at=now, updated_at=now
            )
            done = list(
                Booking.objects.filter(pk__in=candidates, status=BookingStatus.RELEASED, released_at=now).values_list(
                    "pk", "series_id"
                )
            )
            released += [pk for pk, _ in done]
            for series_id in sorted({s for _, s in done if s}):
                _end_series_after_misses(series_id, now=now)
    return released


def _end_series_after_misses(series_id: int, *, now: datetime) -> None:
    recent = list(
        Booking.objects.filter(series_id=series_id, start__lte=now)
        .exclude(status=BookingStatus.CANCELLED)
        .order_by("-start")
        .values_list("status", flat=True)[:MISSES_BEFORE_SERIES_ENDS]
    )
    if len(recent) < MISSES_BEFORE_SERIES_ENDS or any(s != BookingStatus.RELEASED for s in recent):
        return
    cancelled = _cancel_queryset(
        Booking.objects.filter(series_id=series_id, start__gt=now, status=BookingStatus.CONFIRMED), now=now
    )
    claimed = BookingSeries.objects.filter(pk=series_id, status=SeriesStatus.ACTIVE).update(
        status=SeriesStatus.ENDED_NO_SHOW
    )
    if cancelled or claimed:
        from bookings import tasks

        enqueue_after_commit(tasks.series_ended_notify, series_id)


def series_ended_notify(*, series_id: int) -> bool:
    """E-mail the organiser that their series lost its future occurrences after repeated no-shows."""
    from django.core.mail import send_mail

    series = (
        BookingSeries.objects.select_related("organiser__user", "room", "desk", "site").filter(pk=series_id).first()
    )
    if series is None or not series.organiser.user.email:
        return False
    resource = series.room or series.desk
    send_mail(
        subject=f"Your recurring booking of {resource} was cancelled",
        message=(
            f"Hello {series.organiser.display_name},\n\n"
            f"Your recurring booking of {resource} ({series.title or series.rrule}) was not checked in "
            f"{MISSES_BEFORE_SERIES_ENDS} times in a row, so its future occurrences were released for others.\n"
            "Book again whenever you need the space.\n"
        ),
        from_email=None,
        recipient_list=[series.organiser.user.email],
    )
    return True


# --- Desks and presence (called by comfort and badges) -----------------------------------------------------------


def _local_day_end(moment: datetime, tz) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


@_retry_on_deadlock
def desk_check_in(*, person: Person, desk: Desk, at: datetime | None = None) -> Booking:
    """Check ``person`` in at ``desk``: their booking of it, or a walk-in booking while the desk is free.

    Raises Conflict if someone else holds the desk now or the person is checked in (or booked) at another desk.
    Idempotent: checking in again at the same desk returns the same booking.
    """
    at = at or timezone.now()
    site = desk.site
    grace = timedelta(minutes=site.check_in_grace_minutes)
    with transaction.atomic():
        mine = (
            Booking.objects.filter(
                organiser=person, desk=desk, status__in=OPEN_STATUSES, start__lte=at + grace, end__gt=at
            )
            .order_by("start")
            .first()
        )
        if mine is not None:
            return _check_in(mine, at=at, ahead=max(CHECK_IN_AHEAD, grace))
        elsewhere = (
            Booking.objects.filter(organiser=person, desk__isnull=False, status__in=OPEN_STATUSES, start__lte=at)
            .filter(end__gt=at)
            .exclude(desk=desk)
            .select_related("desk")
            .first()
        )
        if elsewhere is not None:
            verb = "checked in" if elsewhere.status == BookingStatus.CHECKED_IN else "booked"
            raise Conflict(f"You are {verb} at desk {elsewhere.desk.label} now; check out there first.")
        holder = (
            Booking.objects.filter(desk=desk, status__in=HOLDING_STATUSES, start__lte=at, hold_end__gt=at)
            .exclude(organiser=person)
            .first()
        )
        if holder is not None:
            raise Conflict(f"Desk {desk.label} is taken until {holder.end.astimezone(site.tz):%H:%M}.")
        next_start = (
            Booking.objects.filter(status__in=HOLDING_STATUSES, start__gt=at)
            .filter(Q(desk=desk) | Q(organiser=person, desk__isnull=False))
            .order_by("start")
            .values_list("start", flat=True)
            .first()
        )
        end = min(_local_day_end(at, site.tz), next_start) if next_start else _local_day_end(at, site.tz)
        if end <= at:
            raise Conflict(f"Desk {desk.label} is booked from now on.")
        try:
            with transaction.atomic():
                booking = Booking(
                    site=site,
                    desk=desk,
                    organiser=person,
                    company_id=person.company_id,
                    created_by=person,
                    start=at,
                    end=end,
                    hold_end=end,
                    status=BookingStatus.CHECKED_IN,
                    source=BookingSource.WALK_IN,
                    checked_in_at=at,
                )
                booking.full_clean(exclude=_RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
                booking.save(force_insert=True)
        except IntegrityError as exc:
            if not _is_overlap_violation(exc):
                raise
            raise Conflict(f"Desk {desk.label} was just taken.") from None
    return booking


@transaction.atomic
def desk_check_out(*, person: Person, desk: Desk, at: datetime | None = None) -> Booking:
    """End the person's checked-in booking of ``desk`` at ``at``: its end becomes ``at`` and it is completed."""
    at = at or timezone.now()
    booking = (
        Booking.objects.select_for_update()
        .filter(organiser=person, desk=desk, status=BookingStatus.CHECKED_IN, end__gt=at - timedelta(minutes=1))
        .order_by("start")
        .first()
    )
    if booking is None:
        raise NotFound(f"You are not checked in at desk {desk.label}.")
    if at <= booking.start:
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = at
    else:
        booking.end = min(at, booking.end)
        booking.hold_end = booking.end
        booking.status = BookingStatus.COMPLETED
    booking.sequence += 1
    booking.save(update_fields=["end", "hold_end", "status", "cancelled_at", "sequence", "updated_at"])
    return booking


def presence_check_in(*, person: Person, site: Site, at: datetime | None = None) -> list[Booking]:
    """A badge scan at ``site``: check the person in to their bookings there that are live or start within 15 min."""
    at = at or timezone.now()
    due = list(
        Booking.objects.filter(
            organiser=person,
            site=site,
            status=BookingStatus.CONFIRMED,
            start__lte=at + CHECK_IN_AHEAD,
            end__gt=at,
        ).order_by("start")
    )
    checked_in = []
    for booking in due:
        try:
            checked_in.append(_check_in(booking, at=at))
        except (Conflict, RuleViolation):  # released or changed meanwhile: nothing to check in
            continue
    return checked_in


# --- Calendar feed -----------------------------------------------------------------------------------------------


def calendar_feed_token_digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_regenerate(*, person: Person) -> str:
    """Create or replace the person's private feed token; returns the token (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(person=person, defaults={"token_digest": calendar_feed_token_digest(token)})
    return token


def calendar_feed_revoke(*, person: Person) -> None:
    CalendarFeed.objects.filter(person=person).delete()
