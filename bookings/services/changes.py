"""Create (single or recurring), re-time and cancel bookings under the rules and the no-overlap constraint."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import db, events, recurrence
from bookings.choices import (
    OPEN_STATUSES,
    BookingSource,
    BookingStatus,
    CancelScope,
    SeriesStatus,
)
from bookings.events import BookingChange, OccupancyCause
from bookings.models import MAX_ATTENDEES, Booking, BookingSeries, Desk, Room
from bookings.services.conflicts import (
    conflict_error,
    conflicting,
    held_until,
    is_overlap_violation,
    retry_on_deadlock,
)
from bookings.services.demand import records_refusals
from bookings.services.rules import booking_rules_check, closed_days, local_days, rules_for
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from labs.models import Person, Site
from labs.permissions import is_staff, require_role_allows, role_allows

logger = logging.getLogger(__name__)


# Relations the services hold as loaded objects: full_clean() need not query each one again to see that it exists
# (the foreign keys still guarantee it). The uniqueness of uid is the database's; the overlap rule is checked here.
PLAUSIBLE_PAST = timedelta(days=366)
PLAUSIBLE_FUTURE = timedelta(days=3653)

RESOLVED_RELATIONS = ["site", "room", "desk", "organiser", "company", "created_by", "series"]


def _normalise_attendees(attendees: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in attendees or ():
        if not isinstance(raw, str):
            raise Invalid(_("Attendees are e-mail addresses."), extra={"attendees": [_("Give e-mail addresses.")]})
        email = raw.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid(
                f"{raw!r} is not an e-mail address.", extra={"attendees": [f"{raw!r} is not valid."]}
            ) from None
        seen[email] = None
    if len(seen) > MAX_ATTENDEES:
        raise Invalid(_("At most %(count)d attendees.") % {"count": MAX_ATTENDEES})
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
        raise Invalid(_("Book either a room or a desk."), extra={"room": [_("Give a room or a desk, not both.")]})
    resource = room or desk
    if not resource.is_active:
        raise Invalid(_("%(resource)s is not bookable.") % {"resource": resource})
    organiser = organiser or actor
    if organiser.pk != actor.pk:
        if not is_staff(actor):
            raise Forbidden(_("Only staff may book on someone else's behalf."))
        if organiser.site_id != actor.site_id or not organiser.user.is_active:
            raise NotFound(_("No such person."))
        if source in {BookingSource.API, BookingSource.PORTAL}:
            source = BookingSource.STAFF
    override_reason = (override_reason or "").strip()
    if override_reason and not is_staff(actor):
        raise Forbidden(_("Only staff may override the booking rules."))
    attendees = list(attendees or [])
    if desk is not None and attendees:
        raise Invalid(_("A desk booking has no attendees."), extra={"attendees": [_("Desks are for one person.")]})
    if (title or attendees) and not role_allows(organiser, "calendar"):
        # Role-limited collection: a short visit's booking holds no meeting title or invitees (labs.permissions).
        require_role_allows(organiser, "calendar", "A booking's title and attendees")
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
        raise Invalid(_("Give start and end with a UTC offset."))
    if end <= start:
        raise Invalid(_("A booking must end after it starts."), extra={"end": [_("Must be after start.")]})
    # Whatever the rules (staff override them), a booking lies in a plausible window: a typo of a year (964 for 2026)
    # is refused instead of holding a room a millennium away or ten centuries back.
    now = timezone.now()
    if start < now - PLAUSIBLE_PAST or end > now + PLAUSIBLE_FUTURE:
        raise Invalid(
            _("A booking must lie between a year ago and ten years ahead."),
            extra={"start": [_("Outside the bookable window.")]},
        )


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
        hold_end=held_until(room=req.room, end=end),
        source=req.source,
        override_reason=req.override_reason,
        **fields,
    )
    booking.full_clean(exclude=RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
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


@records_refusals
@retry_on_deadlock
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
                # The closure days came with the room or desk if the caller read it for this booking (the API).
                read = getattr(req.resource, "closures_read", None)
                booking_rules_check(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    intervals=[(start, end)],
                    attendees=req.attendees,
                    now=now,
                    closed=closed_days(req.site, [(start, end)], read=read) if read is not None else None,
                )
            if not db.uses_ranges():  # SQLite: the check is the rule, under the IMMEDIATE write lock
                conflicts = list(
                    conflicting(room=req.room, desk=req.desk, organiser=req.organiser, start=start, end=end)[:20]
                )
                if conflicts:
                    raise conflict_error(conflicts, tz=req.site.tz, desk=req.desk)
            # PostgreSQL: the exclusion constraints are the check; a refusal is looked up below for the message.
            booking = _new_booking(req, start=start, end=end)
            booking.save(force_insert=True)
    except IntegrityError as exc:
        if not is_overlap_violation(exc):
            raise
        # The constraint refused ours (on SQLite this cannot happen): name what holds the slot.
        logger.info(
            "booking refused by the exclusion constraint %s", getattr(exc.__cause__.diag, "constraint_name", "")
        )
        conflicts = list(conflicting(room=req.room, desk=req.desk, organiser=req.organiser, start=start, end=end)[:20])
        raise conflict_error(conflicts, tz=req.site.tz, desk=req.desk) from None
    events.bookings_changed(booking_ids=[booking.pk], change=BookingChange.CREATED, at=timezone.now())
    return booking


@dataclass
class SeriesResult:
    series: BookingSeries
    bookings: list[Booking]
    skipped: list[str] = field(default_factory=list)  # local start dates of occurrences not booked
    closed: list[str] = field(default_factory=list)  # those of them skipped because the site is closed that day


@records_refusals
@retry_on_deadlock
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
    the free occurrences are booked and the conflicting ones reported in ``skipped``. Occurrences on a day the site is
    closed are refused alike (422 ``closed``, listing the days), or skipped and reported with ``skip_conflicts``.
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
    closed_dates: list[str] = []
    try:
        with transaction.atomic():
            closed = None
            if not req.override_reason:
                closed = closed_days(req.site, [(o.start, o.end) for o in occurrences])
                if closed and skip_conflicts:  # a closed day is skipped as a taken slot is, if any other is left
                    shut = {i for i, o in enumerate(occurrences) if local_days(o.start, o.end, tz) & closed.keys()}
                    if len(shut) < len(occurrences):
                        closed_dates = [occurrences[i].start.astimezone(tz).strftime("%Y-%m-%d") for i in sorted(shut)]
                        occurrences = [o for i, o in enumerate(occurrences) if i not in shut]
                        closed = {}
            intervals = [(o.start, o.end) for o in occurrences]
            if not req.override_reason:
                booking_rules_check(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    intervals=intervals,
                    attendees=req.attendees,
                    now=now,
                    closed=closed,
                )
            existing = list(
                conflicting(
                    room=req.room,
                    desk=req.desk,
                    organiser=req.organiser,
                    start=occurrences[0].start,
                    end=occurrences[-1].end,
                )
            )
            free, clashing, clashes = [], [], []
            for occ in occurrences:
                hold_end = held_until(room=req.room, end=occ.end)
                hits = [b for b in existing if _overlaps_existing(b, req, occ.start, occ.end, hold_end)]
                if hits:
                    clashing.append(occ)
                    clashes.extend(hits)
                else:
                    free.append(occ)
            dates = [o.start.astimezone(tz).strftime("%Y-%m-%d") for o in clashing]
            if clashing and not skip_conflicts or not free:
                raise conflict_error(clashes, tz=tz, desk=req.desk, dates=dates)
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
            series.full_clean(exclude=RESOLVED_RELATIONS)
            series.save()
            bookings = [_new_booking(req, start=o.start, end=o.end, series=series, recurrence_id=o.start) for o in free]
            Booking.objects.bulk_create(bookings)
            events.bookings_changed(
                booking_ids=[b.pk for b in bookings], change=BookingChange.CREATED, at=timezone.now()
            )
    except IntegrityError as exc:
        if not is_overlap_violation(exc):
            raise
        raise Conflict(_("An occurrence was booked by someone else at the same moment; try again.")) from None
    return SeriesResult(series=series, bookings=bookings, skipped=sorted(dates + closed_dates), closed=closed_dates)


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
    raise NotFound(_("No such booking."))


@retry_on_deadlock
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
        raise Conflict(
            _("This booking is %(status)s and cannot change.") % {"status": booking.get_status_display().lower()}
        )
    new_start = start or booking.start
    new_end = end or booking.end
    _check_times(new_start, new_end)
    if booking.status == BookingStatus.CHECKED_IN and new_start != booking.start:
        raise Invalid(_("A checked-in booking keeps its start; change its end instead."))
    override_reason = (override_reason or "").strip()
    if override_reason and not is_staff(actor):
        raise Forbidden(_("Only staff may override the booking rules."))
    new_attendees = _normalise_attendees(attendees) if attendees is not None else booking.attendees
    if booking.desk_id and new_attendees:
        raise Invalid(_("A desk booking has no attendees."), extra={"attendees": [_("Desks are for one person.")]})
    if (title or (attendees is not None and new_attendees)) and not role_allows(booking.organiser, "calendar"):
        require_role_allows(booking.organiser, "calendar", "A booking's title and attendees")
    retimed = (new_start, new_end) != (booking.start, booking.end)
    tz = booking.site.tz
    try:
        with transaction.atomic():
            locked = Booking.objects.select_for_update().get(pk=booking.pk)
            if locked.status not in OPEN_STATUSES:
                raise Conflict(_("This booking changed meanwhile; reload it."))
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
                    conflicting(
                        room=booking.room,
                        desk=booking.desk,
                        organiser=booking.organiser,
                        start=new_start,
                        end=new_end,
                        exclude_ids=[booking.pk],
                    )[:20]
                )
                if conflicts:
                    raise conflict_error(conflicts, tz=tz, desk=booking.desk)
            booking.start, booking.end = new_start, new_end
            booking.hold_end = held_until(room=booking.room, end=new_end)
            booking.attendees = new_attendees
            if title is not None:
                booking.title = title.strip()[:200]
            if retimed:
                booking.sequence += 1
                booking.is_moved = booking.series_id is not None or booking.is_moved
            if override_reason:
                booking.override_reason = override_reason
            booking.full_clean(exclude=RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
            booking.save()
    except IntegrityError as exc:
        if not is_overlap_violation(exc):
            raise
        conflicts = list(
            conflicting(
                room=booking.room,
                desk=booking.desk,
                organiser=booking.organiser,
                start=new_start,
                end=new_end,
                exclude_ids=[booking.pk],
            )[:20]
        )
        raise conflict_error(conflicts, tz=tz, desk=booking.desk) from None
    events.bookings_changed(booking_ids=[booking.pk], change=BookingChange.UPDATED, at=now)
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
    changed = cancel_queryset(targets, now=now)
    if booking.series_id and scope != CancelScope.ONE:
        remaining = booking.series.occurrences.filter(status__in=OPEN_STATUSES, end__gt=now).exists()
        if scope == CancelScope.ALL or not remaining:
            BookingSeries.objects.filter(pk=booking.series_id).update(status=SeriesStatus.CANCELLED)
    booking.refresh_from_db()
    return changed


def cancelling_ends(booking: Booking, *, now: datetime) -> bool:
    """Whether cancelling ``booking`` at ``now`` ends it instead of calling it off: checked in and started, it is
    completed now and kept as used (:func:`cancel_queryset`; the portal says "End now" for it)."""
    return booking.status == BookingStatus.CHECKED_IN and booking.start <= now < booking.end


def cancel_queryset(targets: QuerySet[Booking], *, now: datetime) -> int:
    """Cancel what has not started and end (complete) what is running; a checked-in desk booking's desk returns to
    its defaults (the occupancy event)."""
    not_started = Q(status=BookingStatus.CONFIRMED) | Q(status=BookingStatus.CHECKED_IN, start__gt=now)
    checked_in_early = list(
        targets.filter(status=BookingStatus.CHECKED_IN, start__gt=now, desk__isnull=False).only(
            "pk", "desk_id", "organiser_id"
        )
    )
    cancelled_ids = list(targets.filter(not_started).values_list("pk", flat=True))
    changed = (
        targets.filter(pk__in=cancelled_ids)
        .filter(not_started)
        .update(status=BookingStatus.CANCELLED, cancelled_at=now, sequence=F("sequence") + 1, updated_at=now)
    )
    events.bookings_changed(booking_ids=cancelled_ids, change=BookingChange.CANCELLED, at=now)
    for running in targets.filter(status=BookingStatus.CHECKED_IN, start__lte=now, end__gt=now):
        running.end = max(now, running.start + timedelta(minutes=1))
        running.hold_end = held_until(room=running.room, end=running.end)
        running.status = BookingStatus.COMPLETED
        running.sequence += 1
        running.save(update_fields=["end", "hold_end", "status", "sequence", "updated_at"])
        events.desk_occupancy_changed(booking=running, occupied=False, cause=OccupancyCause.CANCELLED, at=now)
        events.bookings_changed(booking_ids=[running.pk], change=BookingChange.COMPLETED, at=now)
        changed += 1
    for booking in checked_in_early:
        events.desk_occupancy_changed(booking=booking, occupied=False, cause=OccupancyCause.CANCELLED, at=now)
    return changed


# The reasons of labs.hooks.access_revoked after which the person no longer comes: their bookings end with their
# access, so a room or desk is not held for someone who cannot get in. A role change keeps them (the person still
# comes; the new role's rules apply to what they book next).
ENDS_BOOKINGS = frozenset({"account_disabled", "membership_ended", "erased"})


def bookings_end_for_person(*, person_id: int, reason: str, now: datetime | None = None) -> int:
    """Cancel what the person organises and has not started, end what is running (a checked-in desk returns to its
    defaults) and end their series. Runs inside the caller's transaction (the access_revoked hook). Idempotent."""
    if reason not in ENDS_BOOKINGS:
        return 0
    now = now or timezone.now()
    targets = Booking.objects.filter(organiser_id=person_id, status__in=OPEN_STATUSES, end__gt=now)
    changed = cancel_queryset(targets, now=now)
    BookingSeries.objects.filter(organiser_id=person_id, status=SeriesStatus.ACTIVE).update(
        status=SeriesStatus.CANCELLED
    )
    if changed:
        logger.info("Ended %d bookings of person %s (%s)", changed, person_id, reason)
    return changed
