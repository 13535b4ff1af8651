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

logger = logging.getLogger(__name__)


def on_bookings_changed(event: BookingsChanged) -> None:
    if event.change == BookingChange.CHECKED_IN:  # a check-in changes nothing in any calendar
        return
    rows = list(
        Booking.objects.filter(pk__in=event.booking_ids, room__isnull=False)
        .order_by("pk")
        .values_list("pk", "room__calendar_link__id", "organiser__personal_calendar__status")
    )
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
