"""Check-in (API, portal, badge scan, desk presence), check-out, release of no-shows and the end of bookings.

Every service here that starts or ends a checked-in desk booking announces it through :mod:`bookings.events` after
commit, so comfort moves the desk and re-arbitrates the zone whichever door the change came through."""

from __future__ import annotations

import logging
from collections import namedtuple
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import events
from bookings.choices import (
    HOLDING_STATUSES,
    OPEN_STATUSES,
    BookingSource,
    BookingStatus,
    CheckInVia,
    SeriesStatus,
)
from bookings.events import BookingChange, OccupancyCause
from bookings.models import Booking, BookingSeries, Desk
from bookings.services.changes import RESOLVED_RELATIONS, cancel_queryset
from bookings.services.conflicts import is_overlap_violation, retry_on_deadlock
from bookings.services.rules import closure_check, span, violation
from labs.errors import Conflict, NotFound, RuleViolation
from labs.models import Person, Site
from labs.transactions import enqueue_after_commit

logger = logging.getLogger(__name__)


def _may_check_in(actor: Person, booking: Booking) -> bool:
    if booking.organiser_id == actor.pk:
        return True
    email = (actor.user.email or "").lower()
    return bool(email) and email in {a.lower() for a in booking.attendees}


@transaction.atomic
def booking_check_in(*, actor: Person, booking: Booking, at: datetime | None = None) -> Booking:
    """The organiser or an attendee checks the booking in (API, portal), from 15 minutes before its start until the
    release. A desk booking's desk moves to its organiser's preferences (the occupancy event).

    Idempotent: checking in a checked-in booking returns it unchanged.
    """
    if not _may_check_in(actor, booking):
        raise NotFound(_("No such booking."))
    at = at or timezone.now()
    return _check_in(booking, at=at, via=CheckInVia.BOOKING)


def _check_in(booking: Booking, *, at: datetime, via: str, ahead: timedelta | None = None) -> Booking:
    """Confirmed -> checked in (a conditional UPDATE, so two doors checking in at once count once); announces the
    desk's occupancy after commit."""
    ahead = settings.BOOKINGS_CHECK_IN_AHEAD if ahead is None else ahead
    if booking.status == BookingStatus.CHECKED_IN:
        return booking
    if booking.status != BookingStatus.CONFIRMED:
        status = booking.get_status_display().lower()
        raise Conflict(_("This booking is %(status)s; book again.") % {"status": status})
    if at < booking.start - ahead:
        words = {"span": span(ahead)}
        raise violation("check_in_window", _("Check-in opens %(span)s before the booking starts.") % words)
    if at >= booking.end:
        raise violation("check_in_window", "This booking has ended.")
    now = timezone.now()
    updated = Booking.objects.filter(pk=booking.pk, status=BookingStatus.CONFIRMED).update(
        status=BookingStatus.CHECKED_IN, checked_in_at=at, checked_in_via=via, updated_at=now
    )
    if not updated:  # another door changed it meanwhile: what is it now?
        booking.refresh_from_db()
        if booking.status != BookingStatus.CHECKED_IN:
            status = booking.get_status_display().lower()
            raise Conflict(_("This booking is %(status)s; book again.") % {"status": status})
        return booking
    booking.status, booking.checked_in_at, booking.checked_in_via, booking.updated_at = (
        BookingStatus.CHECKED_IN,
        at,
        via,
        now,
    )
    events.desk_occupancy_changed(booking=booking, occupied=True, cause=OccupancyCause.CHECK_IN, at=at)
    events.bookings_changed(booking_ids=[booking.pk], change=BookingChange.CHECKED_IN, at=at)
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
                Booking.objects.filter(pk__in=candidates, status=BookingStatus.RELEASED, released_at=now).only(
                    "pk", "series_id", "desk_id", "organiser_id"
                )
            )
            released += [b.pk for b in done]
            events.bookings_changed(booking_ids=[b.pk for b in done], change=BookingChange.RELEASED, at=now)
            for booking in done:
                events.desk_occupancy_changed(booking=booking, occupied=False, cause=OccupancyCause.RELEASED, at=now)
            for series_id in sorted({b.series_id for b in done if b.series_id}):
                _end_series_after_misses(series_id, now=now)
    return released


def bookings_complete_ended(*, now: datetime | None = None) -> list[int]:
    """Checked-in bookings whose end has passed become completed; their desks return to their defaults (the
    occupancy event). A conditional UPDATE per batch: running twice, or beside a check-out, completes each once."""
    now = now or timezone.now()
    completed: list[int] = []
    with transaction.atomic():
        ended = list(
            Booking.objects.select_for_update(skip_locked=True)
            .filter(status=BookingStatus.CHECKED_IN, end__lte=now)
            .order_by("end")
            .only("pk", "desk_id", "organiser_id", "end")[:5000]
        )
        if not ended:
            return completed
        Booking.objects.filter(pk__in=[b.pk for b in ended], status=BookingStatus.CHECKED_IN).update(
            status=BookingStatus.COMPLETED, updated_at=now
        )
        events.bookings_changed(booking_ids=[b.pk for b in ended], change=BookingChange.COMPLETED, at=now)
        for booking in ended:
            completed.append(booking.pk)
            events.desk_occupancy_changed(booking=booking, occupied=False, cause=OccupancyCause.ENDED, at=now)
    return completed


def _end_series_after_misses(series_id: int, *, now: datetime) -> None:
    recent = list(
        Booking.objects.filter(series_id=series_id, start__lte=now)
        .exclude(status=BookingStatus.CANCELLED)
        .order_by("-start")
        .values_list("status", flat=True)[: settings.BOOKINGS_MISSES_BEFORE_SERIES_ENDS]
    )
    if len(recent) < settings.BOOKINGS_MISSES_BEFORE_SERIES_ENDS or any(s != BookingStatus.RELEASED for s in recent):
        return
    cancelled = cancel_queryset(
        Booking.objects.filter(series_id=series_id, start__gt=now, status=BookingStatus.CONFIRMED), now=now
    )
    claimed = BookingSeries.objects.filter(pk=series_id, status=SeriesStatus.ACTIVE).update(
        status=SeriesStatus.ENDED_NO_SHOW
    )
    if cancelled or claimed:
        from bookings import tasks

        enqueue_after_commit(tasks.series_ended_notify, series_id)


def series_ended_notify(*, series_id: int) -> bool:
    """E-mail the organiser that their series lost its future occurrences after repeated no-shows; once (claimed
    with a conditional UPDATE, released again if sending fails so a retry can send it)."""
    from django.core.mail import send_mail

    series = (
        BookingSeries.objects.select_related("organiser__user", "room", "desk", "site").filter(pk=series_id).first()
    )
    if series is None or not series.organiser.user.email:
        return False
    if not BookingSeries.objects.filter(pk=series_id, ended_notified_at=None).update(ended_notified_at=timezone.now()):
        return False
    resource = series.room or series.desk
    try:
        _send_series_ended(series, resource, send_mail)
    except Exception:
        BookingSeries.objects.filter(pk=series_id).update(ended_notified_at=None)
        raise
    return True


def _send_series_ended(series: BookingSeries, resource, send_mail) -> None:
    send_mail(
        subject=f"Your recurring booking of {resource} was cancelled",
        message=(
            f"Hello {series.organiser.display_name},\n\n"
            f"Your recurring booking of {resource} ({series.title or series.rrule}) was not checked in "
            f"{settings.BOOKINGS_MISSES_BEFORE_SERIES_ENDS} times in a row, so its future occurrences were released "
            "for others.\n"
            "Book again whenever you need the space.\n"
        ),
        from_email=None,
        recipient_list=[series.organiser.user.email],
    )


# --- Desks and presence (called by comfort and badges) -----------------------------------------------------------


def _local_day_end(moment: datetime, tz) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


_AROUND_FIELDS = ("pk", "organiser_id", "desk_id", "status", "start", "end", "hold_end")
Around = namedtuple("Around", _AROUND_FIELDS)
# Table name from the model, values are parameters.
_AROUND_SQL = f"""
    SELECT id, organiser_id, desk_id, status, start, "end", hold_end
      FROM {Booking._meta.db_table}
     WHERE (desk_id = %(desk)s OR (organiser_id = %(person)s AND desk_id IS NOT NULL))
       AND status = ANY(%(statuses)s) AND start < %(until)s AND ("end" > %(at)s OR hold_end > %(at)s)
     ORDER BY start, id
"""  # noqa: S608


def _around(*, desk_id: int, person_id: int, at: datetime, until: datetime) -> list[Around]:
    """The holding bookings of this desk, and the person's at any desk, that have not ended at ``at`` and start before
    ``until``, by start. PostgreSQL: hand-written, as the desk frame's read in comfort (the ORM spends ~1.5 ms of
    Python building this OR-query on the check-in's path to the desk moving); tests/bookings/test_check_in_around.py
    checks it against the ORM's answer. Elsewhere the ORM."""
    if connection.vendor == "postgresql":
        params = {"desk": desk_id, "person": person_id, "statuses": list(HOLDING_STATUSES), "at": at, "until": until}
        with connection.cursor() as cursor:
            cursor.execute(_AROUND_SQL, params)
            return [Around(*row) for row in cursor.fetchall()]
    return _around_orm(desk_id=desk_id, person_id=person_id, at=at, until=until)


def _around_orm(*, desk_id: int, person_id: int, at: datetime, until: datetime) -> list:
    return list(
        Booking.objects.filter(Q(desk_id=desk_id) | Q(organiser_id=person_id, desk_id__isnull=False))
        .filter(status__in=HOLDING_STATUSES, start__lt=until)
        .filter(Q(end__gt=at) | Q(hold_end__gt=at))
        .order_by("start", "pk")
        .values_list(*_AROUND_FIELDS, named=True)
    )


@retry_on_deadlock
def desk_check_in(*, person: Person, desk: Desk, at: datetime | None = None) -> Booking:
    """Check ``person`` in at ``desk``: their booking of it, or a walk-in booking while the desk is free.

    Raises Conflict if someone else holds the desk now or the person is checked in (or booked) at another desk.
    Idempotent: checking in again at the same desk returns the same booking.
    """
    at = at or timezone.now()
    site = desk.site
    grace = timedelta(minutes=site.check_in_grace_minutes)
    with transaction.atomic():
        # One read of what stands around this desk and this person for the rest of the day (their bookings at any
        # desk, anyone's at this one): check-in is on the path to the desk moving, so the four questions below (mine?
        # elsewhere? held by someone? until when is it free?) are answered from it. A walk-in ends by the day's end,
        # so nothing later matters; a desk and a person hold a handful of bookings a day.
        day_end = _local_day_end(at, site.tz)
        around = _around(desk_id=desk.pk, person_id=person.pk, at=at, until=max(day_end, at + grace))
        mine = next(
            (
                b
                for b in around
                if b.organiser_id == person.pk
                and b.desk_id == desk.pk
                and b.status in OPEN_STATUSES
                and b.start <= at + grace
                and b.end > at
            ),
            None,
        )
        if mine is not None:
            booking = Booking.objects.select_related("site").get(pk=mine.pk)
            return _check_in(booking, at=at, via=CheckInVia.DESK, ahead=max(settings.BOOKINGS_CHECK_IN_AHEAD, grace))
        elsewhere = next(
            (
                b
                for b in around
                if b.organiser_id == person.pk
                and b.desk_id != desk.pk
                and b.status in OPEN_STATUSES
                and b.start <= at < b.end
            ),
            None,
        )
        if elsewhere is not None:
            label = Desk.objects.filter(pk=elsewhere.desk_id).values_list("label", flat=True).first()
            if elsewhere.status == BookingStatus.CHECKED_IN:
                detail = _("You are checked in at desk %(label)s now; check out there first.")
            else:
                detail = _("You are booked at desk %(label)s now; check out there first.")
            raise Conflict(detail % {"label": label})
        holder = next(
            (b for b in around if b.desk_id == desk.pk and b.organiser_id != person.pk and b.start <= at < b.hold_end),
            None,
        )
        if holder is not None:
            until = f"{holder.end.astimezone(site.tz):%H:%M}"
            raise Conflict(_("Desk %(label)s is taken until %(until)s.") % {"label": desk.label, "until": until})
        end = min([day_end] + [b.start for b in around if b.start > at])
        if end <= at:
            raise Conflict(_("Desk %(label)s is booked from now on.") % {"label": desk.label})
        closure_check(site, [(at, end)])  # a walk-in is a booking: not on a day the site is closed (rule closed)
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
                    checked_in_via=CheckInVia.DESK,
                )
                booking.full_clean(exclude=RESOLVED_RELATIONS, validate_unique=False, validate_constraints=False)
                booking.save(force_insert=True)
        except IntegrityError as exc:
            if not is_overlap_violation(exc):
                raise
            raise Conflict(_("Desk %(label)s was just taken.") % {"label": desk.label}) from None
        # The occupancy event first: its handlers run in this order after commit, and the desk should move before
        # the calendars are written.
        events.desk_occupancy_changed(booking=booking, occupied=True, cause=OccupancyCause.CHECK_IN, at=at)
        events.bookings_changed(booking_ids=[booking.pk], change=BookingChange.CREATED, at=at)
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
        raise NotFound(_("You are not checked in at desk %(label)s.") % {"label": desk.label})
    if at <= booking.start:
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = at
    else:
        booking.end = min(at, booking.end)
        booking.hold_end = booking.end
        booking.status = BookingStatus.COMPLETED
    booking.sequence += 1
    booking.save(update_fields=["end", "hold_end", "status", "cancelled_at", "sequence", "updated_at"])
    change = BookingChange.CANCELLED if booking.status == BookingStatus.CANCELLED else BookingChange.COMPLETED
    events.bookings_changed(booking_ids=[booking.pk], change=change, at=at)
    events.desk_occupancy_changed(booking=booking, occupied=False, cause=OccupancyCause.CHECK_OUT, at=at)
    return booking


@transaction.atomic
def presence_check_in(*, person: Person, site: Site, at: datetime | None = None) -> list[Booking]:
    """A badge scan at ``site``: check the person in to their bookings there that are live or start within 15 min
    (their desk moves to their preferences through the occupancy event)."""
    at = at or timezone.now()
    due = list(
        Booking.objects.filter(
            organiser=person,
            site=site,
            status=BookingStatus.CONFIRMED,
            start__lte=at + settings.BOOKINGS_CHECK_IN_AHEAD,
            end__gt=at,
        ).order_by("start")
    )
    checked_in = []
    for booking in due:
        try:
            with transaction.atomic():
                checked_in.append(_check_in(booking, at=at, via=CheckInVia.BADGE))
        except (Conflict, RuleViolation):  # released or changed meanwhile: nothing to check in
            continue
    return checked_in


@transaction.atomic
def desk_presence_check_in(*, desk: Desk, at: datetime | None = None) -> Booking | None:
    """A desk sensed someone at it: the desk's confirmed booking that is due now (from 15 minutes, or the site's
    grace if longer, before its start until its end) is checked in. Nobody's booking is made up: a desk without a due
    booking stays as it is (a walk-in checks in at the desk or the portal, which names the person)."""
    at = at or timezone.now()
    ahead = max(settings.BOOKINGS_CHECK_IN_AHEAD, timedelta(minutes=desk.site.check_in_grace_minutes))
    booking = (
        Booking.objects.filter(desk=desk, status__in=OPEN_STATUSES, start__lte=at + ahead, end__gt=at)
        .order_by("start")
        .first()
    )
    if booking is None:
        return None
    try:
        return _check_in(booking, at=at, via=CheckInVia.DESK_PRESENCE, ahead=ahead)
    except (Conflict, RuleViolation):  # released or changed meanwhile
        return None


# --- Calendar feed -----------------------------------------------------------------------------------------------
