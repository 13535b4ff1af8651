"""What calendars do when bookings change, from any door (``bookings.events.on_bookings_changed``).

No calendar shows a desk booking, and most changes of a busy site are desks (check-ins, walk-ins, releases): one
query keeps only the room bookings and says whether their rooms are linked, so a desk's change costs calendars that
query and nothing more. The same query says whether the rooms are linked to a calendar and whether the organisers
have connected their own: only then do the rooms' calendars (:func:`calendars.services.on_bookings_changed`) and the
organisers' own calendars (:func:`calendars.personal.on_bookings_changed`) take their part, so a booking where
neither applies costs calendars that one query. One failing does not stop the other.
"""

from __future__ import annotations

import dataclasses
import logging

from bookings.events import BookingChange, BookingsChanged
from bookings.models import Booking
from calendars import personal, services
from calendars.choices import PersonalStatus
from labs.prepared import CompiledRows

logger = logging.getLogger(__name__)

_GATE_COLUMNS = ("pk", "room__calendar_link__id", "organiser__personal_calendar__status")
# One booking changed (a create, a move, a cancel: most events): the gate's SQL built once (labs.prepared).
_GATE_ONE = CompiledRows(
    lambda pk: Booking.objects.filter(pk=pk, room__isnull=False).order_by().values_list(*_GATE_COLUMNS), pk=int
)


def _gate_rows(booking_ids) -> list[tuple]:
    """(booking, its room's calendar link or None, its organiser's own calendar status or None) of the room
    bookings among ``booking_ids``, in id order."""
    ids = list(booking_ids)
    if len(ids) == 1 and type(ids[0]) is int:
        return _GATE_ONE.rows(pk=ids[0])
    return list(Booking.objects.filter(pk__in=ids, room__isnull=False).order_by("pk").values_list(*_GATE_COLUMNS))


def on_bookings_changed(event: BookingsChanged) -> None:
    if event.change == BookingChange.CHECKED_IN:  # a check-in changes nothing in any calendar
        return
    rows = _gate_rows(event.booking_ids)
    if not rows:
        return
    handlers = []
    if any(link for _pk, link, _status in rows):  # a room linked to a calendar: the rooms' sync reads what it needs
        handlers.append(services.on_bookings_changed)
    if any(status == PersonalStatus.CONNECTED for _pk, _link, status in rows):  # an organiser's own calendar
        handlers.append(personal.on_bookings_changed)
    rooms = tuple(pk for pk, _link, _status in rows)
    narrowed = dataclasses.replace(event, booking_ids=rooms)
    for handler in handlers:
        try:
            handler(narrowed)
        except Exception:
            logger.exception("calendars: %s failed for bookings %s", handler.__module__, rooms)
