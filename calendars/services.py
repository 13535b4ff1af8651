"""Every state change of calendars: connections, room links, sync requests, push notifications, the outbound queue.

The sync itself is :mod:`calendars.sync`; these services decide *what* to sync and queue it (Celery, after commit).
Bookings change only through ``bookings.services``, by each site's calendar-sync person (:func:`sync_person_for`).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from bookings.choices import HOLDING_STATUSES
from bookings.events import BookingChange, BookingsChanged
from bookings.models import Booking, Room
from calendars import providers, sync
from calendars.choices import EventLinkState, EventOrigin
from calendars.models import Connection, EventLink, OutboundChange, RoomCalendar
from calendars.providers.base import Notification, ProviderError
from labs import services as labs_services
from labs.choices import Role
from labs.errors import Conflict, Invalid, NotFound
from labs.models import Person, Site
from labs.permissions import require_staff
from labs.transactions import enqueue_after_commit

logger = logging.getLogger(__name__)

SYNC_USERNAME = "calendar-sync-{slug}"


# --- The calendar-sync person ----------------------------------------------------------------------------------


def sync_person_for(site: Site) -> Person:
    """The site's calendar-sync person: the actor of every change calendar sync makes, and the organiser of bookings
    whose organiser is not a person here (the external organiser's address is kept on the EventLink).

    A staff role (booking on someone's behalf needs one) on an account that cannot sign in (unusable password, no
    token): it books for the people the events name, under the same rules as everyone."""
    username = SYNC_USERNAME.format(slug=site.slug)[:150]
    person = Person.objects.select_related("user", "site").filter(user__username=username).first()
    if person is not None:
        return person
    try:
        with transaction.atomic():
            return labs_services.person_create(
                username=username,
                role=Role.STAFF,
                site=site,
                first_name="Calendar",
                last_name=f"sync ({site.name})"[:150],
            )
    except IntegrityError:  # made by a concurrent sync
        return Person.objects.select_related("user", "site").get(user__username=username)


def is_sync_person(person: Person | None) -> bool:
    return person is not None and person.user.username == SYNC_USERNAME.format(slug=person.site.slug)[:150]


# --- Connections -----------------------------------------------------------------------------------------------


def connection_create(
    *, actor: Person, site: Site, provider: str, name: str, credentials: dict, verify: bool = True
) -> Connection:
    """Connect a tenant: the credentials are checked for shape, then (``verify``) used once to get a token, so bad
    credentials are a 400 naming the provider's answer; they are stored encrypted and never shown again."""
    require_staff(actor)
    if site.pk != actor.site_id:
        raise NotFound("No such site.")
    try:
        cls = providers.provider_class(provider)
    except ProviderError:
        raise Invalid(f"Unknown provider {provider!r}.", extra={"provider": ["Use google or microsoft."]}) from None
    cleaned = cls.credentials_clean(credentials)
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the connection a name.", extra={"name": ["This field is required."]})
    if verify:
        try:
            cls(credentials=cleaned).credentials_verify()
        except ProviderError as exc:
            raise Invalid(str(exc), extra={"credentials": [str(exc)]}) from None
    connection = Connection(site=site, provider=provider, name=name[:120], created_by=actor)
    connection.credentials = cleaned
    connection.full_clean(exclude=["site", "created_by"])
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        raise Conflict("This site already has a calendar connection with that name.") from None
    return connection


def _require_site_staff(actor: Person, site_id: int) -> None:
    require_staff(actor)
    if actor.site_id != site_id:
        raise NotFound("Not found.")


def connection_delete(*, actor: Person, connection: Connection) -> None:
    """Stop every push channel/subscription at the provider (best effort) and unlink the connection's rooms.

    The bookings that came from the calendars stay: they are bookings; their events stay at the provider."""
    _require_site_staff(actor, connection.site_id)
    adapter = None
    for calendar in connection.calendars.all():
        if calendar.watch_id:
            try:
                adapter = adapter or providers.provider_for(connection)
            except ProviderError as exc:
                logger.warning("connection %s: cannot stop channels: %s", connection.pk, exc)
                break
            sync.watch_stop(calendar, adapter)
    connection.delete()


def connection_sync_request(*, actor: Person, connection: Connection) -> int:
    """Queue an incremental sync of every linked room of the connection (the "sync now" button, the API)."""
    _require_site_staff(actor, connection.site_id)
    calendars = list(connection.calendars.values_list("pk", flat=True))
    for pk in calendars:
        calendar_sync_request(pk, force=True)
    return len(calendars)


# --- Room links ------------------------------------------------------------------------------------------------


def room_calendar_link(*, actor: Person, room: Room, connection: Connection, calendar_id: str) -> RoomCalendar:
    """Link a room to its calendar: one room, one calendar; one calendar, one room (409 otherwise). Linking again
    to the same calendar changes nothing. A new link starts a full sync of the window (which writes the room's
    existing bookings to the calendar first) and a push channel."""
    _require_site_staff(actor, room.site_id)
    if connection.site_id != room.site_id:
        raise NotFound("No such connection.")
    calendar_id = (calendar_id or "").strip().lower()
    if not calendar_id or len(calendar_id) > 255:
        raise Invalid("Give the calendar's address.", extra={"calendar_id": ["This field is required."]})
    with transaction.atomic():
        current = RoomCalendar.objects.select_for_update().filter(room=room).first()
        if current is not None:
            if current.connection_id == connection.pk and current.calendar_id == calendar_id:
                return current
            raise Conflict(f"{room.name} is already linked to {current.calendar_id}; unlink it first.")
        if RoomCalendar.objects.filter(calendar_id=calendar_id).exists():
            raise Conflict(f"{calendar_id} is already linked to another room.")
        calendar = RoomCalendar(connection=connection, room=room, calendar_id=calendar_id)
        calendar.watch_token = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                calendar.save()
        except IntegrityError:
            raise Conflict(f"{calendar_id} is already linked to another room.") from None
        now = timezone.now()
        window = sync.sync_window(now)
        live = Booking.objects.filter(
            room=room, status__in=HOLDING_STATUSES, end__gt=window.start, start__lt=window.end
        ).values_list("pk", flat=True)
        OutboundChange.objects.bulk_create(
            [OutboundChange(calendar=calendar, booking_id=pk, queued_at=now) for pk in live]
        )
        calendar_sync_request(calendar.pk, full=True)
    return calendar


def room_calendar_unlink(*, actor: Person, room: Room) -> None:
    """Unlink a room: its channel is stopped (best effort) and the sync state deleted; bookings stay."""
    _require_site_staff(actor, room.site_id)
    calendar = RoomCalendar.objects.select_related("connection").filter(room=room).first()
    if calendar is None:
        raise NotFound("This room has no linked calendar.")
    sync.watch_stop(calendar)
    calendar.delete()


# --- Sync requests -----------------------------------------------------------------------------------------------


def calendar_sync_request(calendar_id: int, *, full: bool = False, force: bool = False) -> bool:
    """Queue one sync of the calendar after commit. Requests coalesce: while one is queued and not started, another
    is not queued (``force`` queues anyway: the periodic reconcile, in case a queued task was lost)."""
    from calendars import tasks

    if full:
        RoomCalendar.objects.filter(pk=calendar_id).update(full_sync_required=True)
    flipped = RoomCalendar.objects.filter(pk=calendar_id, sync_queued=False).update(sync_queued=True)
    if not flipped and not force:
        return False
    enqueue_after_commit(tasks.calendar_sync, calendar_id)
    return True


def watch_notified(*, calendar_id: int, kind: str = "change") -> None:
    """One genuine push notification for a calendar (its watch known, its token checked by the caller): a change
    queues one (coalesced) incremental sync; Graph's lifecycle events renew (``reauthorizationRequired``), recreate
    and resync (``subscriptionRemoved``) or resync (``missed``)."""
    if kind == "reauthorizationRequired":
        RoomCalendar.objects.filter(pk=calendar_id).update(watch_expires_at=timezone.now())
        calendar_sync_request(calendar_id, force=True)
    elif kind == "subscriptionRemoved":
        RoomCalendar.objects.filter(pk=calendar_id).update(watch_id="", watch_resource_id="", watch_expires_at=None)
        calendar_sync_request(calendar_id, full=True, force=True)
    else:
        calendar_sync_request(calendar_id)


def notifications_receive(*, provider: str, notifications: list[Notification]) -> int:
    """Push notifications, already parsed by the provider class: each one whose watch is known and whose token
    matches is passed to :func:`watch_notified`; the others are logged and dropped. Returns how many matched."""
    accepted = 0
    for note in notifications:
        calendar = (
            RoomCalendar.objects.filter(connection__provider=provider, watch_id=note.watch_id)
            .only("pk", "watch_token")
            .first()
        )
        if calendar is None:
            from calendars import personal
            from calendars.models import PersonalCalendar

            mine = PersonalCalendar.objects.filter(provider=provider, watch_id=note.watch_id).only("pk", "watch_token")
            mine = mine.first()
            if mine is not None and mine.watch_token and constant_time_compare(mine.watch_token, note.token):
                accepted += 1
                if note.kind != "sync":
                    personal.personal_notified(calendar_id=mine.pk, kind=note.kind)
                continue
        if calendar is None and note.kind == "sync":
            # Google sends a channel's first message ("sync", no change) while it is being created, before the
            # channel's id is stored: expected at every start of a channel, so not a warning (the answer stays 404).
            logger.info("%s sync message for a channel not stored yet: %s", provider, note.watch_id)
            continue
        if calendar is None or not calendar.watch_token or not constant_time_compare(calendar.watch_token, note.token):
            logger.warning("%s notification for unknown watch or with a wrong token: %s", provider, note.watch_id)
            continue
        accepted += 1
        watch_notified(calendar_id=calendar.pk, kind=note.kind)
    return accepted


# --- Outbound: bookings changed anywhere ---------------------------------------------------------------------------


def _in_sync(booking: Booking, link: EventLink | None) -> bool:
    """Whether the provider already shows ``booking`` as it is (so nothing needs writing)."""
    holding = booking.status in HOLDING_STATUSES
    if link is None:
        return not holding
    if link.state != EventLinkState.LINKED:
        return not holding
    if not holding:
        return False
    if link.origin == EventOrigin.OUTBOUND:
        return link.digest == sync.outbound_digest(sync.outbound_event(booking))
    return (link.start, link.end) == (booking.start, booking.end)


def on_bookings_changed(event: BookingsChanged) -> None:
    """After commit, from every door: queue the bookings of linked rooms whose calendar does not show them as they
    are, and one sync of each such calendar. Check-ins change nothing at the provider."""
    if event.change == BookingChange.CHECKED_IN:
        return
    in_step = sync.in_step.get() or set()
    ids = [pk for pk in event.booking_ids if pk not in in_step]  # the calendar sync's own changes: in step already
    if not ids:
        return
    bookings = list(
        Booking.objects.filter(pk__in=ids, room__calendar_link__isnull=False).select_related(
            "site", "room", "room__calendar_link", "organiser__user"
        )
    )
    if not bookings:
        return
    links = {(link.calendar_id, link.booking_id): link for link in EventLink.objects.filter(booking__in=bookings)}
    now = timezone.now()
    calendars = set()
    for booking in bookings:
        calendar = booking.room.calendar_link
        if _in_sync(booking, links.get((calendar.pk, booking.pk))):
            continue
        OutboundChange.objects.update_or_create(calendar=calendar, booking=booking, defaults={"queued_at": now})
        calendars.add(calendar.pk)
    for pk in sorted(calendars):
        calendar_sync_request(pk)


# --- Periodic -------------------------------------------------------------------------------------------------------


def calendars_reconcile(*, now: datetime | None = None) -> int:
    """For every linked calendar: queue the live bookings of the room that its calendar does not show as they are
    (a change whose after-commit handler was lost), then one sync (which also reads what notifications missed)."""
    now = now or timezone.now()
    window = sync.sync_window(now)
    count = 0
    for calendar in RoomCalendar.objects.all():
        linked = EventLink.objects.filter(calendar=calendar, booking__isnull=False)
        missing = (
            Booking.objects.filter(
                room_id=calendar.room_id, status__in=HOLDING_STATUSES, end__gt=window.start, start__lt=window.end
            )
            .exclude(pk__in=linked.filter(state=EventLinkState.LINKED).values("booking_id"))
            .values_list("pk", flat=True)
        )
        stale = linked.filter(state=EventLinkState.LINKED).filter(
            ~Q(booking__status__in=HOLDING_STATUSES) | ~Q(booking__start=F("start")) | ~Q(booking__end=F("end"))
        )
        stale = stale.values_list("booking_id", flat=True)
        for pk in {*missing, *stale}:
            OutboundChange.objects.get_or_create(calendar=calendar, booking_id=pk, defaults={"queued_at": now})
        calendar_sync_request(calendar.pk, force=True)
        count += 1
    return count


def watches_renew(*, now: datetime | None = None) -> int:
    """Queue a sync (which starts or renews the channel) for every calendar without a channel or past half of its
    channel's life: channels never silently expire."""
    from datetime import timedelta

    from django.conf import settings

    now = now or timezone.now()
    half = timedelta(hours=settings.CALENDAR_WATCH_HOURS) / 2
    due = RoomCalendar.objects.filter(
        Q(watch_id="") | Q(watch_expires_at__isnull=True) | Q(watch_expires_at__lt=now + half)
    ).values_list("pk", flat=True)
    due = list(due)
    for pk in due:
        calendar_sync_request(pk, force=True)
    return len(due)


def calendar_sync_run(*, calendar_id: int, full: bool = False) -> sync.SyncResult:
    """The task's body: one sync; a calendar unlinked meanwhile is nothing to do."""
    try:
        return sync.calendar_sync(calendar_id=calendar_id, full=full)
    except RoomCalendar.DoesNotExist:
        return sync.SyncResult(calendar_id=calendar_id, ran=False)


def person_calendar_erase(*, person: Person) -> int:
    """Erase what calendar sync holds about ``person`` (the erasure service of the privacy work calls this): their
    address where it was kept as an external organiser, and the reasons written about their events. The event ids
    stay: they identify events on the operator's room calendars, and the bookings they point at are erased or
    pseudonymised by the bookings side; without them the next sync would book those events again."""
    email = (person.user.email or "").lower()
    links = EventLink.objects.filter(booking__organiser=person)
    if email:
        links = links | EventLink.objects.filter(organiser_email__iexact=email)
    return EventLink.objects.filter(pk__in=links.values("pk")).update(organiser_email="", reason="")
