"""A person's bookings as an RFC 5545 calendar (the `icalendar` library writes it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from django.utils import timezone
from icalendar import Calendar, Event

from bookings.choices import BookingStatus
from bookings.models import Booking

PRODID = "-//Labs//Bookings//EN"
UID_DOMAIN = "bookings.labs"
_STATUS = {
    BookingStatus.CONFIRMED: "CONFIRMED",
    BookingStatus.CHECKED_IN: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
    BookingStatus.CANCELLED: "CANCELLED",
    BookingStatus.RELEASED: "CANCELLED",
}


def booking_uid(booking: Booking) -> str:
    """Stable across every change of the booking: the calendar client updates the event instead of adding one."""
    return f"{booking.uid}@{UID_DOMAIN}"


def calendar_for(bookings: Iterable[Booking], *, name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    stamp = timezone.now().astimezone(UTC)
    for booking in bookings:
        event = Event()
        event.add("uid", booking_uid(booking))
        event.add("dtstamp", stamp)
        event.add("last-modified", booking.updated_at.astimezone(UTC))
        event.add("created", booking.created_at.astimezone(UTC))
        event.add("dtstart", booking.start.astimezone(UTC))
        event.add("dtend", booking.end.astimezone(UTC))
        event.add("sequence", booking.sequence)
        event.add("status", _STATUS[booking.status])
        resource = booking.room or booking.desk
        kind = "Room" if booking.room_id else "Desk"
        event.add("summary", booking.title or f"{kind} {resource}")
        event.add("location", f"{resource}, {booking.site.name}")
        if booking.status == BookingStatus.RELEASED:
            event.add("description", "Released: it was not checked in within the grace period.")
        cal.add_component(event)
    return cal.to_ical()
