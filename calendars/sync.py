"""The sync engine: one room calendar at a time, both ways, idempotent and convergent (CALENDAR.md behaviour 1-6).

A sync of one calendar, under its claim (a conditional UPDATE: one sync per calendar at a time, see :func:`_claim`):

1. **Push** what we owe the provider: the room's answers not yet sent (accept/decline) and the outbound changes
   queued by :func:`calendars.services.on_bookings_changed` (create, re-time, retitle, delete our events; decline an
   inbound event whose booking was cancelled or released here). A booking re-timed here whose event someone else
   organises cannot be moved by the room: the room declines that event and the booking goes on under an event of
   ours (same booking, same id).
2. **Pull** the changes since the sync token (one request when nothing changed), or the whole window on the first
   sync, after a 410, when the token belongs to another query, and once a day as the window slides. Every page is
   read before anything is applied; the token is stored only after. Each event is applied through
   ``bookings.services`` (the same rules and no-overlap constraint as the API) by the site's calendar-sync person;
   a conflict or a broken rule is declined at the provider with the reason and creates no booking.
3. **Watch**: the push channel or subscription is started, or renewed past half its life.

Matching an event to what we know: its id on the room's calendar, else its ``iCalUID`` (a Graph room copy of our
write), else our booking key (``extendedProperties.private`` / the client-chosen id / Graph's extended property).
An event whose etag did not change is skipped, so our own writes' echoes and replayed notifications cost nothing.

Recurring events arrive as instances. A new series becomes a ``BookingSeries`` in the room's local time (its rule,
bounded to the window, from the first instance that has not started); instances that differ from the rule (moved,
cancelled, conflicting) change that occurrence only; what the rule cannot express is booked instance by instance.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from bookings import recurrence
from bookings import services as booking_services
from bookings.choices import HOLDING_STATUSES, OPEN_STATUSES, BookingSource, CancelScope
from bookings.models import Booking
from calendars import providers
from calendars.choices import CalendarStatus, ConnectionStatus, EventLinkState, EventOrigin
from calendars.models import Connection, EventLink, OutboundChange, RoomCalendar
from calendars.providers.base import (
    CalendarProvider,
    ChangeSet,
    CredentialsRejected,
    EventGone,
    OutboundEvent,
    ProviderError,
    RemoteEvent,
    RoomResponse,
    SyncTokenInvalid,
    SyncWindow,
    Watch,
)
from labs.errors import DomainError
from labs.models import Person

logger = logging.getLogger(__name__)

# Bookings this sync has just put in step with their events: their after-commit "bookings changed" needs no
# outbound write, so the handler skips them without a query (see calendars.services.on_bookings_changed).
in_step: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("calendars_in_step", default=None)


def _mark_in_step(*booking_ids: int) -> None:
    current = in_step.get()
    if current is not None:
        current.update(booking_ids)


MAX_ROUNDS = 5  # a sync asked for while one runs makes the running one go round again, at most this often
FULL_SYNC_EVERY = timedelta(days=1)  # the window slides: a daily full sync reads events that entered it
OUTBOUND_BATCH = 500
GIVE_UP_AFTER = 5  # attempts at an outbound change the provider refuses outright (not rate limits, not outages)


def sync_window(now: datetime) -> SyncWindow:
    return SyncWindow(
        start=now - timedelta(days=settings.CALENDAR_SYNC_PAST_DAYS),
        end=now + timedelta(days=settings.CALENDAR_SYNC_FUTURE_DAYS),
    )


@dataclass
class SyncResult:
    calendar_id: int
    ran: bool = True
    full: bool = False
    requests: int = 0
    inbound: int = 0
    outbound: int = 0
    rounds: int = 0


# --- One sync per calendar at a time ----------------------------------------------------------------------------


def _claim(calendar_id: int, now: datetime) -> str | None:
    """Claim the calendar for one sync with a conditional UPDATE, or ask the running sync to go round again."""

    def attempt() -> str | None:
        claim = secrets.token_hex(8)
        free = Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now)
        taken = RoomCalendar.objects.filter(free, pk=calendar_id).update(
            sync_claim=claim,
            sync_claimed_until=now + settings.CALENDAR_SYNC_LEASE,
            sync_rerun=False,
            sync_queued=False,
        )
        return claim if taken else None

    claim = attempt()
    if claim is None:
        RoomCalendar.objects.filter(pk=calendar_id).update(sync_rerun=True)
        claim = attempt()  # the holder may have released between the two: then it is ours
    return claim


def _release(calendar_id: int, claim: str) -> bool:
    """Release the claim unless a sync was asked for meanwhile (then the caller goes round again)."""
    released = RoomCalendar.objects.filter(pk=calendar_id, sync_claim=claim, sync_rerun=False).update(
        sync_claim="", sync_claimed_until=None
    )
    if released:
        return True
    RoomCalendar.objects.filter(pk=calendar_id, sync_claim=claim).update(
        sync_rerun=False, sync_claimed_until=timezone.now() + settings.CALENDAR_SYNC_LEASE
    )
    return False


def _abandon(calendar_id: int, claim: str) -> None:
    RoomCalendar.objects.filter(pk=calendar_id, sync_claim=claim).update(sync_claim="", sync_claimed_until=None)


# --- The sync ---------------------------------------------------------------------------------------------------


def calendar_sync(
    *, calendar_id: int, full: bool = False, provider: CalendarProvider | None = None, now: datetime | None = None
) -> SyncResult:
    """Sync one linked calendar both ways (see the module docstring). Raises the provider's error after recording
    it in the calendar's health; a sync already running for this calendar makes this a no-op (``ran=False``) and
    that sync goes round once more."""
    result = SyncResult(calendar_id=calendar_id)
    claim = _claim(calendar_id, now or timezone.now())
    if claim is None:
        result.ran = False
        return result
    marker = in_step.set(set())
    try:
        while True:
            result.rounds += 1
            calendar = RoomCalendar.objects.select_related("connection", "room", "room__site").get(pk=calendar_id)
            adapter = provider or providers.provider_for(calendar.connection)
            before = adapter.requests
            context = _Context.build(calendar, adapter, now=now or timezone.now())
            try:
                result.outbound += _push(context)
                inbound, did_full = _pull(context, full=full)
                if inbound or did_full:
                    result.outbound += _push(context)  # the answers and rewrites the pull decided on
                _watch_ensure(context)
            except Exception as exc:  # the provider's error, or one of ours: either way staff see it failing
                _record_failure(calendar, exc, now=context.now)
                raise
            result.inbound += inbound
            result.full = result.full or did_full
            result.requests += adapter.requests - before
            _record_success(calendar, requests=adapter.requests - before, changes=inbound, now=context.now)
            full = False
            if result.rounds >= MAX_ROUNDS or _release(calendar_id, claim):
                break
    except BaseException:
        _abandon(calendar_id, claim)
        raise
    else:
        if result.rounds >= MAX_ROUNDS:
            _abandon(calendar_id, claim)  # the next queued or periodic sync picks up what is left
            logger.info("calendar %s: stopped after %d rounds", calendar_id, result.rounds)
    finally:
        in_step.reset(marker)
    return result


def _record_success(calendar: RoomCalendar, *, requests: int, changes: int, now: datetime) -> None:
    RoomCalendar.objects.filter(pk=calendar.pk).update(
        status=CalendarStatus.OK,
        last_sync_at=now,
        last_sync_requests=requests,
        last_sync_changes=changes,
        last_error="",
        last_error_at=None,
        consecutive_failures=0,
    )
    Connection.objects.filter(pk=calendar.connection_id, status=ConnectionStatus.FAILING).update(
        status=ConnectionStatus.ACTIVE, last_error="", last_error_at=None
    )


def _record_failure(calendar: RoomCalendar, exc: Exception, *, now: datetime) -> None:
    """The calendar's health says it failed and why. A failure of ours (a bug, an event we could not take) is named
    by its type as well and logged with its traceback: the calendar shows "failing", not a stale "ok"."""
    ours = not isinstance(exc, ProviderError)
    message = (f"{type(exc).__name__}: {exc}" if ours else str(exc))[:500]
    RoomCalendar.objects.filter(pk=calendar.pk).update(
        status=CalendarStatus.FAILING,
        last_error=message,
        last_error_at=now,
        consecutive_failures=F("consecutive_failures") + 1,
    )
    if isinstance(exc, CredentialsRejected):
        # A grant that expired or a key that was revoked stops every calendar of the connection: say so loudly.
        Connection.objects.filter(pk=calendar.connection_id).update(
            status=ConnectionStatus.FAILING, last_error=message, last_error_at=now
        )
        logger.error("calendar connection %s: credentials refused: %s", calendar.connection_id, message)
    elif ours:
        logger.exception("calendar %s (%s) sync failed: %s", calendar.pk, calendar.calendar_id, message)
    else:
        logger.warning("calendar %s (%s) sync failed: %s", calendar.pk, calendar.calendar_id, message)


# --- Context ------------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    calendar: RoomCalendar
    provider: CalendarProvider
    actor: Person
    window: SyncWindow
    now: datetime
    source: str
    min_notice: timedelta
    capacity: int | None
    people: dict = field(default_factory=dict)

    @classmethod
    def build(cls, calendar: RoomCalendar, provider: CalendarProvider, *, now: datetime) -> _Context:
        from calendars.services import sync_person_for

        room = calendar.room
        rules = booking_services.rules_for(room=room)
        return cls(
            calendar=calendar,
            provider=provider,
            actor=sync_person_for(room.site),
            window=sync_window(now),
            now=now,
            source=BookingSource.GOOGLE if calendar.connection.provider == "google" else BookingSource.MICROSOFT,
            min_notice=rules.min_notice,
            capacity=rules.capacity,
        )

    @property
    def room(self):
        return self.calendar.room

    def rules_clock(self, event: RemoteEvent) -> datetime:
        """The moment the booking rules judge an event at: now, except for an event that has started or starts
        within the notice period, which is judged when it was made (an event made in time is not refused for
        being seen late; one made retroactively is)."""
        if event.start is not None and event.start >= self.now + self.min_notice:
            return self.now
        made = event.updated or event.created or self.now
        return min(self.now, made)


def outbound_event(booking: Booking) -> OutboundEvent:
    organiser = booking.organiser
    return OutboundEvent(
        key=booking.uid.hex,
        title=booking.title,
        start=booking.start,
        end=booking.end,
        timezone=booking.site.timezone,
        organiser_email=organiser.user.email or "",
        attendee_count=len(booking.attendees or []),
        location=booking.room.name if booking.room_id else "",
    )


def outbound_digest(event: OutboundEvent) -> str:
    payload = {
        "title": event.title,
        "start": event.start.astimezone(UTC).isoformat(),
        "end": event.end.astimezone(UTC).isoformat(),
        "tz": event.timezone,
        "organiser": event.organiser_email,
        "attendees": event.attendee_count,
        "location": event.location,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _remote_from_link(link: EventLink) -> RemoteEvent:
    return RemoteEvent(
        id=link.event_id or "",
        ical_uid=link.ical_uid,
        write_ref=link.write_ref,
        room_response=link.room_response or RoomResponse.ACCEPTED,
        recurring_event_id=link.recurring_event_id,
        original_start=link.original_start,
        start=link.start,
        end=link.end,
    )


def _local(moment: datetime, context: _Context) -> str:
    return moment.astimezone(context.room.site.tz).strftime("%Y-%m-%d %H:%M")


# --- Push ---------------------------------------------------------------------------------------------------------


def _push(context: _Context) -> int:
    calendar, provider = context.calendar, context.provider
    writes = 0
    for link in EventLink.objects.filter(calendar=calendar).exclude(pending_response="")[:OUTBOUND_BATCH]:
        with contextlib.suppress(EventGone):
            provider.event_respond(
                calendar.calendar_id,
                _remote_from_link(link),
                accept=link.pending_response == "accept",
                comment=link.reason,
            )
        EventLink.objects.filter(pk=link.pk, pending_response=link.pending_response).update(pending_response="")
        writes += 1
    changes = OutboundChange.objects.filter(calendar=calendar).select_related(
        "booking", "booking__site", "booking__room", "booking__organiser__user"
    )[:OUTBOUND_BATCH]
    for change in changes:
        try:
            writes += _push_booking(context, change.booking)
        except ProviderError as exc:
            if exc.retryable or isinstance(exc, CredentialsRejected):
                raise
            change.attempts += 1
            if change.attempts < GIVE_UP_AFTER:
                OutboundChange.objects.filter(pk=change.pk).update(attempts=change.attempts)
                logger.warning("calendar %s: booking %s not written yet: %s", calendar.pk, change.booking_id, exc)
                continue
            logger.error("calendar %s: giving up writing booking %s: %s", calendar.pk, change.booking_id, exc)
        OutboundChange.objects.filter(pk=change.pk, queued_at=change.queued_at).delete()
    return writes


def _wanted(context: _Context, booking: Booking) -> bool:
    return (
        booking.room_id == context.room.pk and booking.status in HOLDING_STATUSES and booking.end > context.window.start
    )


def _write_new(context: _Context, booking: Booking, *, link: EventLink | None = None) -> None:
    wanted = outbound_event(booking)
    remote = context.provider.event_create(context.calendar.calendar_id, wanted)
    with transaction.atomic():
        existing = EventLink.objects.filter(calendar=context.calendar, event_id=remote.id).exclude(
            pk=link.pk if link else None
        )
        existing.delete()  # a link made by a sync that met our event before we recorded it
        link = link or EventLink(calendar=context.calendar, origin=EventOrigin.OUTBOUND)
        link.booking = booking
        link.origin = EventOrigin.OUTBOUND
        link.state = EventLinkState.LINKED
        link.event_id = remote.id
        link.write_ref = remote.write_ref
        link.ical_uid = remote.ical_uid or link.ical_uid
        link.etag = remote.etag
        link.room_response = remote.room_response
        link.start, link.end = booking.start, booking.end
        link.booking_sequence = booking.sequence
        link.digest = outbound_digest(wanted)
        link.reason = ""
        link.save()


def _push_booking(context: _Context, booking: Booking) -> int:
    calendar, provider = context.calendar, context.provider
    link = EventLink.objects.filter(calendar=calendar, booking=booking).first()
    wanted = _wanted(context, booking)
    if link is None or (link.origin == EventOrigin.OUTBOUND and link.state != EventLinkState.LINKED):
        if not wanted:
            return 0
        _write_new(context, booking, link=link)
        return 1
    if link.origin == EventOrigin.OUTBOUND:
        if not wanted:
            provider.event_delete(calendar.calendar_id, link.write_ref or link.event_id)
            link.state = EventLinkState.ENDED
            link.reason = f"The booking was {booking.get_status_display().lower()} in Labs."
            link.save(update_fields=["state", "reason", "updated_at"])
            return 1
        event = outbound_event(booking)
        digest = outbound_digest(event)
        if link.digest == digest and link.room_response != RoomResponse.DECLINED:
            return 0
        try:
            remote = provider.event_update(calendar.calendar_id, link.write_ref or link.event_id, event)
        except EventGone:
            _write_new(context, booking, link=link)
            return 1
        link.etag = remote.etag or link.etag
        link.room_response = remote.room_response
        link.start, link.end = booking.start, booking.end
        link.booking_sequence = booking.sequence
        link.digest = digest
        link.save(update_fields=["etag", "room_response", "start", "end", "booking_sequence", "digest", "updated_at"])
        return 1
    # Someone else's event (inbound): the room can only accept or decline it.
    if link.state != EventLinkState.LINKED:
        return 0
    if not wanted:
        reason = f"The booking was {booking.get_status_display().lower()} in Labs."
        provider.event_respond(calendar.calendar_id, _remote_from_link(link), accept=False, comment=reason)
        link.state = EventLinkState.ENDED
        link.reason = reason
        link.save(update_fields=["state", "reason", "updated_at"])
        return 1
    if (booking.start, booking.end) != (link.start, link.end):
        reason = (
            f"Moved in Labs to {_local(booking.start, context)}-{booking.end.astimezone(context.room.site.tz):%H:%M}."
        )
        provider.event_respond(calendar.calendar_id, _remote_from_link(link), accept=False, comment=reason)
        with transaction.atomic():
            link.state = EventLinkState.ENDED
            link.reason = reason
            link.booking = None
            link.save(update_fields=["state", "reason", "booking", "updated_at"])
        _write_new(context, booking)
        return 2
    return 0


# --- Pull ---------------------------------------------------------------------------------------------------------


def _needs_full(context: _Context, fingerprint: str) -> bool:
    calendar = context.calendar
    return (
        calendar.full_sync_required
        or not calendar.sync_token
        or calendar.sync_query != fingerprint
        or calendar.last_full_sync_at is None
        or context.now - calendar.last_full_sync_at >= FULL_SYNC_EVERY
    )


def _pull(context: _Context, *, full: bool) -> tuple[int, bool]:
    """Read and apply the changes. An incremental sync lists with the window its token was made for (a Graph
    deltaLink is bound to it); the window slides only when a full sync is due."""
    calendar, provider = context.calendar, context.provider
    stored = None
    if calendar.window_start and calendar.window_end:
        stored = SyncWindow(start=calendar.window_start, end=calendar.window_end)
    listing = stored or context.window
    fingerprint = provider.query_fingerprint(calendar.calendar_id, listing)
    full = full or stored is None or _needs_full(context, fingerprint)
    if full:
        listing = context.window
        fingerprint = provider.query_fingerprint(calendar.calendar_id, listing)
    try:
        changes = provider.changes_list(
            calendar.calendar_id, token=None if full else calendar.sync_token, window=listing
        )
    except SyncTokenInvalid:
        logger.info("calendar %s: sync token expired, syncing the window in full", calendar.pk)
        listing = context.window
        fingerprint = provider.query_fingerprint(calendar.calendar_id, listing)
        changes = provider.changes_list(calendar.calendar_id, token=None, window=listing)
    applied = _apply(context, changes)
    fields = {
        "sync_token": changes.next_token,
        "sync_query": fingerprint,
        "full_sync_required": False,
    }
    if changes.full:
        fields.update(window_start=listing.start, window_end=listing.end, last_full_sync_at=context.now)
    RoomCalendar.objects.filter(pk=calendar.pk).update(**fields)
    for name, value in fields.items():
        setattr(calendar, name, value)
    return applied, changes.full


class _Links:
    """The calendar's links that a change set may touch, found by event id, iCalUID and booking key."""

    def __init__(self, calendar: RoomCalendar, events: list[RemoteEvent], *, everything: bool):
        queryset = EventLink.objects.filter(calendar=calendar).select_related(
            "booking", "booking__site", "booking__room", "booking__organiser__user"
        )
        if not everything:
            ids = {e.id for e in events} | {e.recurring_event_id for e in events if e.recurring_event_id}
            uids = {e.ical_uid for e in events if e.ical_uid}
            keys = [e.booking_key for e in events if e.booking_key]
            condition = Q(event_id__in=ids) | Q(recurring_event_id__in=ids) | Q(ical_uid__in=uids)
            if keys:
                condition |= Q(booking__uid__in=keys)
            queryset = queryset.filter(condition)
        self.all = list(queryset)
        self.by_id = {link.event_id: link for link in self.all if link.event_id}
        self.by_uid = defaultdict(list)
        self.by_series = defaultdict(list)
        self.by_booking_key = {}
        for link in self.all:
            self._index(link)

    def _index(self, link: EventLink) -> None:
        if link.ical_uid and link.recurring_event_id == "" and link.original_start is None:
            self.by_uid[link.ical_uid].append(link)
        if link.recurring_event_id:
            self.by_series[link.recurring_event_id].append(link)
        if link.booking_id:
            self.by_booking_key[link.booking.uid.hex] = link

    def add(self, link: EventLink) -> None:
        self.all.append(link)
        if link.event_id:
            self.by_id[link.event_id] = link
        self._index(link)

    def find(self, event: RemoteEvent) -> EventLink | None:
        link = self.by_id.get(event.id)
        if link is not None:
            return link
        if event.ical_uid and not event.recurring_event_id:
            for candidate in self.by_uid.get(event.ical_uid, []):
                return candidate
        if event.booking_key:
            return self.by_booking_key.get(event.booking_key)
        return None


def _apply(context: _Context, changes: ChangeSet) -> int:
    if not changes.events and not changes.full:
        return 0
    links = _Links(context.calendar, changes.events, everything=changes.full or len(changes.events) > 200)
    seen: set[int] = set()
    applied = 0
    singles, series = [], defaultdict(list)
    for event in changes.events:
        if event.recurring_event_id:
            series[event.recurring_event_id].append(event)
        else:
            singles.append(event)
    for event in singles:
        applied += _apply_single(context, links, event, seen)
    for series_id, instances in series.items():
        applied += _apply_series(context, links, series_id, instances, seen)
    if changes.full:
        applied += _absent_after_full_sync(context, links, seen)
    return applied


def _overlaps_window(context: _Context, event: RemoteEvent) -> bool:
    return event.start is not None and event.start < context.window.end and event.end > context.window.start


def _apply_single(context: _Context, links: _Links, event: RemoteEvent, seen: set[int]) -> int:
    link = links.find(event)
    if event.is_cancelled:
        if link is None:
            ended = 0
            for instance_link in list(links.by_series.get(event.id, [])):  # a whole series deleted by its master
                seen.add(instance_link.pk)
                ended += _end(context, instance_link, "Cancelled or deleted at the provider.")
            return ended
        seen.add(link.pk)
        return _end(context, link, "Cancelled or deleted at the provider.")
    if link is None and event.booking_key:
        booking = (
            Booking.objects.select_related("site", "room", "organiser__user")
            .filter(uid=_uuid(event.booking_key), room=context.room)
            .first()
        )
        if booking is not None:  # our own write, met before we recorded it
            link = EventLink(calendar=context.calendar, booking=booking, origin=EventOrigin.OUTBOUND)
            link.start, link.end = booking.start, booking.end
    if link is None:
        if not _overlaps_window(context, event) or event.room_response not in RoomResponse.HOLDING:
            return 0
        link = _create_from_event(context, event)
        links.add(link)
        seen.add(link.pk)
        return 1
    if link.pk:
        seen.add(link.pk)
    if link.pk and link.etag == event.etag and link.event_id == event.id:
        return 0  # unchanged: the echo of our own write, or a replay
    changed = _update_from_event(context, link, event)
    if link.pk:
        seen.add(link.pk)
        links.add(link)
    return changed


def _uuid(key: str):
    import uuid

    try:
        return uuid.UUID(hex=key)
    except ValueError:
        return None


def _person_for(context: _Context, email: str) -> Person | None:
    """The active person of the room's site with this address (looked up once per sync)."""
    if not email:
        return None
    key = email.lower()
    if key not in context.people:
        context.people[key] = (
            Person.objects.select_related("user")
            .filter(site=context.room.site, user__email__iexact=email, user__is_active=True)
            .first()
        )
    return context.people[key]


def _adopt(link: EventLink, event: RemoteEvent) -> None:
    link.event_id = event.id
    link.ical_uid = event.ical_uid or link.ical_uid
    link.etag = event.etag
    link.room_response = event.room_response
    link.recurring_event_id = event.recurring_event_id or link.recurring_event_id
    link.original_start = event.original_start or link.original_start
    link.attendee_count = min(event.attendee_count, 32767)


def _create_from_event(
    context: _Context, event: RemoteEvent, *, link: EventLink | None = None, series_booking: Booking | None = None
) -> EventLink:
    """A new event on the room's calendar: book it through the bookings services, or decline it with the reason."""
    organiser = _person_for(context, event.organiser_email)
    link = link or EventLink(calendar=context.calendar, origin=EventOrigin.INBOUND)
    _adopt(link, event)
    link.origin = EventOrigin.INBOUND
    link.organiser_email = "" if organiser is not None else event.organiser_email[:254]
    link.start, link.end = event.start, event.end
    reason = ""
    people = event.attendee_count + 1
    if context.capacity is not None and people > context.capacity:
        reason = f"{people} people do not fit in a room for {context.capacity}."
    if not reason:
        try:
            with transaction.atomic():
                booking = series_booking or booking_services.booking_create(
                    actor=context.actor,
                    organiser=organiser or context.actor,
                    room=context.room,
                    start=event.start,
                    end=event.end,
                    title=event.title,
                    source=context.source,
                    now=context.rules_clock(event),
                )
                _mark_in_step(booking.pk)
                link.booking = booking
                link.state = EventLinkState.LINKED
                link.reason = ""
                link.pending_response = "accept" if event.room_response == RoomResponse.NEEDS_ACTION else ""
                link.booking_sequence = booking.sequence
                link.save()
            return link
        except DomainError as exc:
            reason = exc.detail
    link.booking = None
    link.state = EventLinkState.DECLINED
    link.reason = reason[:300]
    link.pending_response = "decline"
    link.save()
    logger.info("calendar %s: declined event %s: %s", context.calendar.pk, event.id, reason)
    _requeue_declined_writes(context, event.start, event.end)
    return link


def _requeue_declined_writes(context: _Context, start: datetime, end: datetime) -> None:
    """Our events in [start, end) that the room declined (it held the slot for the event just declined) are written
    again, so the room, free now, accepts them."""
    declined = EventLink.objects.filter(
        calendar=context.calendar,
        origin=EventOrigin.OUTBOUND,
        state=EventLinkState.LINKED,
        room_response=RoomResponse.DECLINED,
        booking__start__lt=end,
        booking__hold_end__gt=start,
    ).values_list("booking_id", flat=True)
    for booking_id in declined:
        OutboundChange.objects.update_or_create(
            calendar=context.calendar, booking_id=booking_id, defaults={"queued_at": context.now}
        )


def _cancel(context: _Context, booking: Booking) -> None:
    _mark_in_step(booking.pk)
    booking_services.booking_cancel(actor=context.actor, booking=booking, scope=CancelScope.ONE, now=context.now)


def _decline(context: _Context, link: EventLink, reason: str) -> None:
    """The room gives up an event it held: the booking is cancelled and the provider is told (pending answer)."""
    with transaction.atomic():
        booking = link.booking
        if booking is not None and booking.status in OPEN_STATUSES:
            booking_services.booking_cancel(
                actor=context.actor, booking=booking, scope=CancelScope.ONE, now=context.now
            )
        link.state = EventLinkState.DECLINED
        link.reason = reason[:300]
        link.pending_response = "decline"
        link.save()


def _end(context: _Context, link: EventLink, reason: str) -> int:
    if link.state != EventLinkState.LINKED:
        return 0
    with transaction.atomic():
        booking = link.booking
        if booking is not None and booking.status in OPEN_STATUSES:
            booking_services.booking_cancel(
                actor=context.actor, booking=booking, scope=CancelScope.ONE, now=context.now
            )
        link.state = EventLinkState.ENDED
        link.reason = reason
        link.pending_response = ""
        link.save()
    return 1


def _update_from_event(context: _Context, link: EventLink, event: RemoteEvent) -> int:
    booking = link.booking
    was = (link.start, link.end)
    _adopt(link, event)
    if link.state != EventLinkState.LINKED or booking is None:
        if (
            link.origin == EventOrigin.INBOUND
            and link.state == EventLinkState.DECLINED
            and event.room_response in RoomResponse.HOLDING
            and (event.start, event.end) != was
            and _overlaps_window(context, event)
        ):
            _create_from_event(context, event, link=link)  # moved since it was declined: ask again
            return 1
        link.save()
        return 0
    if booking.status not in HOLDING_STATUSES:
        link.save()  # cancelled here meanwhile: the push owes the provider an answer
        return 0
    if event.room_response == RoomResponse.DECLINED:
        if link.origin == EventOrigin.OUTBOUND:
            # The room declined our write (it held the slot for an event we had not read yet). The booking is the
            # truth: that event is declined when we read it, and then our event is written again.
            link.save()
            return 0
        _decline(context, link, link.reason or "Declined by the room at the provider.")
        link.pending_response = ""
        link.save(update_fields=["pending_response"])
        return 1
    retimed = (event.start, event.end) != (booking.start, booking.end)
    retitled = link.origin == EventOrigin.INBOUND and event.title[:200] != booking.title
    if not retimed and not retitled:
        link.start, link.end = event.start, event.end
        link.save()
        return 0
    try:
        with transaction.atomic():
            _mark_in_step(booking.pk)
            booking_services.booking_update(
                actor=context.actor,
                booking=booking,
                start=event.start if retimed else None,
                end=event.end if retimed else None,
                title=event.title if retitled else None,
                now=context.rules_clock(event),
            )
            link.start, link.end = event.start, event.end
            link.booking_sequence = booking.sequence
            if link.origin == EventOrigin.OUTBOUND:
                link.digest = outbound_digest(outbound_event(booking))
            link.save()
    except DomainError as exc:
        _decline(context, link, exc.detail)
    return 1


def _absent_after_full_sync(context: _Context, links: _Links, seen: set[int]) -> int:
    """After a full listing: an event of ours that is absent is written again (the booking is the truth); someone
    else's that is absent was deleted, so its booking is cancelled."""
    window = context.window
    ended = 0
    for link in links.all:
        if link.pk in seen or link.state != EventLinkState.LINKED or link.booking is None or not link.event_id:
            continue
        if link.start is None or not (link.start < window.end and link.end > window.start):
            continue
        if link.origin == EventOrigin.OUTBOUND:
            OutboundChange.objects.update_or_create(
                calendar=context.calendar, booking=link.booking, defaults={"queued_at": context.now}
            )
            link.state = EventLinkState.ENDED
            link.reason = "Absent from the provider's calendar: written again."
            link.save(update_fields=["state", "reason", "updated_at"])
            continue
        ended += _end(context, link, "Deleted at the provider.")
    return ended


# --- Recurring events ---------------------------------------------------------------------------------------------


def _apply_series(
    context: _Context, links: _Links, series_id: str, instances: list[RemoteEvent], seen: set[int]
) -> int:
    master = links.by_id.get(series_id)
    known = master is not None or any(links.find(i) for i in instances)
    live = [i for i in instances if not i.is_cancelled and i.room_response in RoomResponse.HOLDING]
    if not known and live:
        created = _series_create(context, links, series_id, instances, seen)
        if created is not None:
            return created
    applied = 0
    for instance in instances:
        link = links.find(instance)
        if link is None and master is not None and master.series_id and instance.original_start:
            occurrence = (
                Booking.objects.select_related("site", "room", "organiser__user")
                .filter(series_id=master.series_id, recurrence_id=instance.original_start)
                .first()
            )
            if occurrence is not None:
                link = EventLink(calendar=context.calendar, booking=occurrence, origin=EventOrigin.INBOUND)
                link.start, link.end = occurrence.start, occurrence.end
        if link is None:
            applied += _apply_single(context, links, instance, seen)
            continue
        if link.pk:
            seen.add(link.pk)
            if link.etag == instance.etag and link.event_id == instance.id:
                continue
        if instance.is_cancelled:
            if link.pk is None:
                link.event_id = instance.id
            applied += _end(context, link, "This occurrence was cancelled at the provider.")
            continue
        applied += _update_from_event(context, link, instance)
        if link.pk:
            links.add(link)
            seen.add(link.pk)
    return applied


def _series_rule(context: _Context, info, first: RemoteEvent, last: RemoteEvent) -> str | None:
    """The provider's rule as one our recurrence accepts: the same frequency and days, from ``first`` to ``last``
    (UNTIL), or None when it cannot be said that way."""
    if info is None or not info.rrule:
        return None
    try:
        parts = dict(item.split("=", 1) for item in info.rrule.upper().split(";") if "=" in item)
    except ValueError:
        return None
    parts.pop("COUNT", None)
    parts.pop("UNTIL", None)
    parts["UNTIL"] = last.original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    rule = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        recurrence.parse(rule)
    except DomainError:
        return None
    return rule


def _series_create(
    context: _Context, links: _Links, series_id: str, instances: list[RemoteEvent], seen: set[int]
) -> int | None:
    """A new recurring event: a BookingSeries in the room's local time for the instances that follow the rule and
    have not started; the rest (started, moved, conflicting) instance by instance. None: not a series here."""
    upcoming = sorted(
        (
            i
            for i in instances
            if not i.is_cancelled
            and i.room_response in RoomResponse.HOLDING
            and i.original_start is not None
            and i.start >= context.now + context.min_notice
            and _overlaps_window(context, i)
        ),
        key=lambda i: i.original_start,
    )
    if len(upcoming) < 2:
        return None
    duration = upcoming[0].end - upcoming[0].start
    regular = [i for i in upcoming if i.start == i.original_start and i.end - i.start == duration]
    if len(regular) < 2:
        return None
    first, last = regular[0], regular[-1]
    info = context.provider.series_get(context.calendar.calendar_id, series_id)
    rule = _series_rule(context, info, first, last)
    if rule is None:
        return None
    organiser = _person_for(context, first.organiser_email)
    people = first.attendee_count + 1
    if context.capacity is not None and people > context.capacity:
        return None  # each instance is declined with the reason below
    try:
        with transaction.atomic():
            result = booking_services.booking_series_create(
                actor=context.actor,
                organiser=organiser or context.actor,
                room=context.room,
                start=first.start,
                end=first.end,
                rrule=rule,
                title=first.title,
                skip_conflicts=True,
                source=context.source,
                now=context.now,
            )
            _mark_in_step(*(b.pk for b in result.bookings))
            master = EventLink(
                calendar=context.calendar,
                event_id=series_id,
                ical_uid=first.ical_uid,
                origin=EventOrigin.INBOUND,
                state=EventLinkState.LINKED,
                series=result.series,
                organiser_email="" if organiser is not None else first.organiser_email[:254],
                start=first.start,
                end=last.end,
            )
            master.save()
    except DomainError as exc:
        logger.info("calendar %s: series %s booked instance by instance: %s", context.calendar.pk, series_id, exc)
        return None
    links.add(master)
    seen.add(master.pk)
    by_start = {b.recurrence_id: b for b in result.bookings}
    matched, unmatched = [], []
    for instance in instances:
        occurrence = by_start.pop(instance.original_start, None) if instance.original_start else None
        (matched if occurrence is not None else unmatched).append((instance, occurrence))
    for orphan in by_start.values():  # an occurrence of the rule the provider does not have (EXDATE, other zone)
        booking_services.booking_cancel(actor=context.actor, booking=orphan, scope=CancelScope.ONE, now=context.now)
    applied = 0
    for instance, occurrence in matched:
        link = EventLink(calendar=context.calendar, booking=occurrence, origin=EventOrigin.INBOUND)
        link.start, link.end = occurrence.start, occurrence.end
        link.organiser_email = master.organiser_email
        if instance.is_cancelled:
            _adopt(link, instance)
            applied += _end(context, link, "This occurrence was cancelled at the provider.")
        else:
            applied += _update_from_event(context, link, instance)
            if link.state == EventLinkState.LINKED and instance.room_response == RoomResponse.NEEDS_ACTION:
                link.pending_response = "accept"
                link.save(update_fields=["pending_response"])
        links.add(link)
        seen.add(link.pk)
    for instance, _none in unmatched:
        applied += _apply_single(context, links, instance, seen)
    return applied


# --- Watch --------------------------------------------------------------------------------------------------------


def notification_address(provider: str, kind: str = "notifications") -> str:
    return settings.PUBLIC_BASE_URL + reverse(f"calendars-api:{provider}-{kind}")


def _watch_ensure(context: _Context) -> None:
    """Start the calendar's push channel, or renew it once less than half of its life is left."""
    calendar, provider = context.calendar, context.provider
    ttl = timedelta(hours=settings.CALENDAR_WATCH_HOURS)
    if calendar.watch_id and calendar.watch_expires_at and calendar.watch_expires_at - context.now > ttl / 2:
        return
    token = calendar.watch_token or secrets.token_urlsafe(32)
    name = calendar.connection.provider
    address = notification_address(name)
    lifecycle = notification_address(name, "lifecycle") if provider.needs_lifecycle_url else ""
    try:
        if calendar.watch_id:
            old = Watch(
                id=calendar.watch_id, resource_id=calendar.watch_resource_id, expires_at=calendar.watch_expires_at
            )
            watch = provider.watch_renew(
                calendar.calendar_id,
                old,
                address=address,
                token=token,
                expires_at=context.now + ttl,
                lifecycle_address=lifecycle,
            )
        else:
            watch = provider.watch_start(
                calendar.calendar_id,
                address=address,
                token=token,
                expires_at=context.now + ttl,
                lifecycle_address=lifecycle,
            )
    except CredentialsRejected:
        raise
    except ProviderError as exc:
        RoomCalendar.objects.filter(pk=calendar.pk).update(watch_error=str(exc)[:500])
        logger.warning("calendar %s: push channel not started: %s", calendar.pk, exc)
        return
    fields = {
        "watch_id": watch.id,
        "watch_resource_id": watch.resource_id,
        "watch_token": token,
        "watch_expires_at": watch.expires_at,
        "watch_error": "",
    }
    RoomCalendar.objects.filter(pk=calendar.pk).update(**fields)
    for name, value in fields.items():
        setattr(calendar, name, value)


def watch_stop(calendar: RoomCalendar, provider: CalendarProvider | None = None) -> None:
    """Stop the calendar's channel at the provider (best effort: a failure is logged; the channel expires)."""
    if not calendar.watch_id:
        return
    try:
        adapter = provider or providers.provider_for(calendar.connection)
        adapter.watch_stop(
            Watch(id=calendar.watch_id, resource_id=calendar.watch_resource_id, expires_at=calendar.watch_expires_at)
        )
    except ProviderError as exc:
        logger.warning("calendar %s: could not stop its channel: %s", calendar.pk, exc)
