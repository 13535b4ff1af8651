"""Reads of calendars: connections a person may see and their health (what operators watch)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from calendars.models import Connection, RoomCalendar
from labs.models import Person
from labs.permissions import is_staff


def connections_for(person: Person | None) -> QuerySet[Connection]:
    """Connections of the staff member's site (nobody else sees any), with their calendars and rooms."""
    if not is_staff(person):
        return Connection.objects.none()
    calendars = RoomCalendar.objects.select_related("room").order_by("room__name")
    return (
        Connection.objects.filter(site_id=person.site_id)
        .select_related("site")
        .prefetch_related(Prefetch("calendars", queryset=calendars))
        .order_by("name")
    )


def calendar_health(calendar: RoomCalendar) -> dict:
    """One linked room's sync health: last sync, its cost, the push channel's expiry, the last error."""
    error = calendar.last_error or (f"Push channel: {calendar.watch_error}" if calendar.watch_error else "")
    return {
        "calendar_pk": calendar.pk,
        "room": calendar.room_id,
        "room_name": calendar.room.name,
        "calendar_id": calendar.calendar_id,
        "status": calendar.status,
        "status_label": calendar.get_status_display(),
        "last_sync_at": calendar.last_sync_at,
        "last_full_sync_at": calendar.last_full_sync_at,
        "last_sync_requests": calendar.last_sync_requests,
        "last_sync_changes": calendar.last_sync_changes,
        "watch_expires_at": calendar.watch_expires_at,
        "error": error,
        "last_error_at": calendar.last_error_at,
        "consecutive_failures": calendar.consecutive_failures,
    }


def connection_health(connection: Connection) -> dict:
    return {
        "status": connection.status,
        "error": connection.last_error,
        "rooms": [calendar_health(c) for c in connection.calendars.all()],
    }


def person_calendar_data(person: Person) -> dict:
    """What calendar sync holds about ``person``, for the export (GDPR Art. 15 and 20): the provider events that hold
    their bookings, and any event they organised while their address was not a person's here."""
    from calendars.models import EventLink

    email = (person.user.email or "").lower()
    links = EventLink.objects.filter(booking__organiser=person)
    if email:
        links = links | EventLink.objects.filter(organiser_email__iexact=email)
    return {
        "events": [
            {
                "calendar": link.calendar.calendar_id,
                "event_id": link.event_id,
                "ical_uid": link.ical_uid,
                "booking": link.booking_id,
                "state": link.state,
                "start": link.start,
                "end": link.end,
                "organiser_email": link.organiser_email,
                "attendee_count": link.attendee_count,
                "reason": link.reason,
            }
            for link in links.select_related("calendar").distinct().order_by("start", "pk")
        ]
    }
