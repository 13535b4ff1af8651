"""What bookings tells the apps above it, after commit: bookings changed, and a desk's occupancy changed.

**Bookings changed.** Every service that creates, re-times, cancels, checks in, releases or completes bookings calls
:func:`bookings_changed` with the ids and the kind of change; once the transaction commits, every handler registered
with :func:`on_bookings_changed` runs with a :class:`BookingsChanged` (calendar sync writes the change to the room's
and the organiser's calendars). Bulk changes (a series, a release run) arrive as one event with many ids.

**Desk occupancy.**
``bookings`` never imports the apps that depend on it. Whenever a service starts or ends a checked-in desk booking
(a check-in from any door, a check-out, a cancellation, the booking's end, a no-show's release, later a calendar
change) it calls :func:`desk_occupancy_changed`. Once the transaction commits, every handler registered with
:func:`on_desk_occupancy_changed` runs with a :class:`DeskOccupancyChanged`: comfort registers one from its
``AppConfig.ready()`` that moves the desk and re-arbitrates the zone.

Handlers run after commit, each on its own (they open their own transactions): a failing handler is logged and never
undoes the booking change. An event says *that* a desk's occupancy changed and why; a handler reads the current state
rather than trusting the event's order, so duplicated or late events are harmless, and comfort's periodic reconcile
repairs a desk whose event was lost (a process that died between commit and handler).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import models

from labs.transactions import after_commit

logger = logging.getLogger(__name__)


class BookingChange(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Re-timed or edited"
    CANCELLED = "cancelled", "Cancelled"
    CHECKED_IN = "checked_in", "Checked in"
    RELEASED = "released", "Released as a no-show"
    COMPLETED = "completed", "Completed"


@dataclass(frozen=True)
class BookingsChanged:
    """Bookings ``booking_ids`` had ``change`` at ``at`` (ids only: handlers read what they need)."""

    booking_ids: tuple[int, ...]
    change: str
    at: datetime


ChangeHandler = Callable[[BookingsChanged], None]
_change_handlers: list[ChangeHandler] = []


def on_bookings_changed(handler: ChangeHandler) -> None:
    """Register ``handler(event)``; apps call this from ``AppConfig.ready()``."""
    if handler not in _change_handlers:
        _change_handlers.append(handler)


def bookings_changed(*, booking_ids, change: str, at: datetime) -> None:
    """Announce, after the current transaction commits, that these bookings changed."""
    ids = tuple(sorted({int(pk) for pk in booking_ids if pk is not None}))
    if not ids:
        return
    event = BookingsChanged(booking_ids=ids, change=str(change), at=at)
    for handler in list(_change_handlers):
        after_commit(handler, event)


class OccupancyCause(models.TextChoices):
    CHECK_IN = "check_in", "Checked in"
    CHECK_OUT = "check_out", "Checked out"
    CANCELLED = "cancelled", "Cancelled while checked in"
    ENDED = "ended", "The booking ended"
    RELEASED = "released", "Released as a no-show"


@dataclass(frozen=True)
class DeskOccupancyChanged:
    """A desk booking started (``occupied``) or stopped being checked in, at ``at``, for ``cause``."""

    booking_id: int
    desk_id: int
    person_id: int
    occupied: bool
    cause: str
    at: datetime


Handler = Callable[[DeskOccupancyChanged], None]
_handlers: list[Handler] = []


def on_desk_occupancy_changed(handler: Handler) -> None:
    """Register ``handler(event)``; apps call this from ``AppConfig.ready()``."""
    if handler not in _handlers:
        _handlers.append(handler)


def desk_occupancy_changed(*, booking, occupied: bool, cause: str, at: datetime) -> None:
    """Announce, after the current transaction commits, that ``booking``'s desk became occupied or free.

    Room bookings are ignored: only desks carry a person's workspace."""
    if booking.desk_id is None:
        return
    event = DeskOccupancyChanged(
        booking_id=booking.pk,
        desk_id=booking.desk_id,
        person_id=booking.organiser_id,
        occupied=occupied,
        cause=str(cause),
        at=at,
    )
    for handler in list(_handlers):
        after_commit(handler, event)
