"""No two holding bookings of a room or desk overlap: the lookup that names what holds a slot, and the mapping of
PostgreSQL's exclusion-constraint refusals and crossing-insert deadlocks to a 409."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookings import db
from bookings.models import Booking, Desk, Room
from labs import dates as labs_dates  # "dates" is a parameter below
from labs.errors import Conflict
from labs.models import Person

logger = logging.getLogger(__name__)


EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
DEADLOCK_ATTEMPTS = 3


def held_until(*, room: Room | None, end: datetime) -> datetime:
    return end + timedelta(minutes=room.buffer_minutes) if room is not None else end


def _describe(booking: Booking, tz) -> dict:
    return {
        "booking_start": booking.start.astimezone(tz).isoformat(),
        "booking_end": booking.end.astimezone(tz).isoformat(),
        "held_until": booking.hold_end.astimezone(tz).isoformat(),
        "resource": "room" if booking.room_id else "desk",
    }


def conflicting(
    *, room: Room | None, desk: Desk | None, organiser: Person, start: datetime, end: datetime, exclude_ids=()
) -> QuerySet[Booking]:
    """Holding bookings that a new booking [start, end) of this resource by ``organiser`` would overlap.

    On PostgreSQL each branch is answered by its exclusion constraint's GiST index (see bookings/db.py).
    """
    hold_end = held_until(room=room, end=end)
    holding = Booking.objects.exclude(pk__in=list(exclude_ids)) if exclude_ids else Booking.objects.all()
    if room is not None:
        condition = Q(db.held_overlaps(start, hold_end), room=room)
    else:
        condition = Q(db.held_overlaps(start, end), desk=desk)
        # one desk per person at a time
        condition |= Q(db.booked_overlaps(start, end), organiser=organiser, desk__isnull=False)
    return holding.filter(condition).order_by("start")


def conflict_error(
    conflicts: Sequence[Booking], *, tz, desk: Desk | None = None, dates: Sequence[str] = ()
) -> Conflict:
    if not conflicts:
        return Conflict(_("This overlaps a booking made at the same moment; pick another time."))
    first = conflicts[0]
    local_start, local_end = first.start.astimezone(tz), first.hold_end.astimezone(tz)
    words = {
        "start": f"{local_start:%Y-%m-%d %H:%M}",
        "end": labs_dates.end_time(local_end),
        "zone": labs_dates.zone_name(tz.key),
    }
    if desk is not None and first.desk_id != desk.pk:
        detail = _("You already hold a desk %(start)s-%(end)s (%(zone)s).") % words
    else:
        detail = _("It is already booked %(start)s-%(end)s (%(zone)s).") % words
    extra = {"conflicts": [_describe(b, tz) for b in conflicts[:20]]}
    if dates:
        extra["dates"] = list(dates)
        words = {"n": len(dates), "dates": ", ".join(dates[:10])}
        detail = ngettext(
            "%(n)d occurrence conflicts: %(dates)s.", "%(n)d occurrences conflict: %(dates)s.", len(dates)
        )
        detail %= words
    return Conflict(detail, extra=extra)


def is_overlap_violation(exc: IntegrityError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == EXCLUSION_VIOLATION


def retry_on_deadlock(func):
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
        raise Conflict(_("This overlaps bookings being made at the same moment; try again."))

    return wrapper
