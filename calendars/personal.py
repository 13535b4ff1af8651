"""Personal calendars (CALENDAR.md, "Personal calendars"): a person's own Google or Microsoft 365 calendar.

Services (connect, disconnect, sync requests, the reaction to bookings changed), selectors (status, booking
addresses) and the sync of one personal calendar, which reuses the room adapters (through
:mod:`calendars.providers.personal`), the sync window and the outbound digest of :mod:`calendars.sync`, and books
only through ``bookings.services``:

1. *push*: every booking the person organises in the window that their calendar does not show as it is, is written
   (created with the room and the site's address as location and its attendees invited, so the provider sends the
   meeting notices; re-timed; deleted when cancelled). Bookings made from their calendar are not written back.
2. *pull*: the changes since the sync token. An event they organise that invites a room's booking address (or names
   it as its location) becomes a booking of that room for them; a move re-times it, a cancellation or un-inviting
   cancels it; a conflict or broken rule is declined in their calendar with the reason, and emailed. Deleting or
   moving one of our events in their calendar cancels or re-times its booking.
3. *watch*: a push channel (Google) or subscription (Graph) as for room calendars.

A refused grant (``invalid_grant``) turns the connection to ``needs_reconnect`` once (conditional UPDATE), emails the
person once, and shows on the portal; other people's syncs are separate tasks and go on.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from bookings import recurrence
from bookings import services as booking_services
from bookings.choices import HOLDING_STATUSES, BookingSource
from bookings.events import BookingChange, BookingsChanged
from bookings.models import Booking, BookingSeries, Room
from calendars import sync
from calendars.choices import EventLinkState, EventOrigin, PersonalStatus
from calendars.models import PersonalCalendar, PersonalEvent
from calendars.providers import personal as adapters
from calendars.providers.base import OutboundEvent, ProviderError, RemoteEvent, SyncTokenInvalid, Watch
from labs.errors import Conflict, DomainError, Invalid
from labs.models import Person
from labs.permissions import require_role_allows
from labs.transactions import after_commit, enqueue_after_commit

logger = logging.getLogger(__name__)

PROVIDERS = ("google", "microsoft")


# --- Booking addresses -----------------------------------------------------------------------------------------


def booking_address(room: Room) -> str:
    """The address a member invites from their own calendar to book ``room``."""
    name = slugify(f"{room.site.slug}-{room.name}")[:40].strip("-") or "room"
    return f"{name}-{room.pk}@{settings.CALENDAR_BOOKING_DOMAIN}".lower()


def room_for_address(address: str) -> Room | None:
    address = (address or "").strip().lower()
    domain = re.escape(settings.CALENDAR_BOOKING_DOMAIN.lower())
    match = re.fullmatch(rf"[a-z0-9-]+-(\d+)@{domain}", address)
    if not match:
        return None
    room = Room.objects.select_related("site").filter(pk=int(match.group(1)), is_active=True).first()
    return room if room is not None and booking_address(room) == address else None


def _rooms_invited(event: RemoteEvent) -> list[tuple[str, Room]]:
    found = []
    domain = "@" + settings.CALENDAR_BOOKING_DOMAIN.lower()
    candidates = list(event.invitees)
    candidates += re.findall(r"[\w.+-]+" + re.escape(domain), (event.location or "").lower())
    for address in dict.fromkeys(candidates):
        if address.endswith(domain):
            room = room_for_address(address)
            if room is not None:
                found.append((address, room))
    return found


# --- Reading -------------------------------------------------------------------------------------------------------


def personal_calendar_status(person: Person) -> dict:
    """``GET /api/v1/me/calendar/``: the person's connection, as CALENDAR.md says."""
    calendar = PersonalCalendar.objects.filter(person=person).first()
    if calendar is None:
        return {"provider": None, "account": None, "status": "none", "last_sync_at": None}
    return {
        "provider": calendar.provider,
        "account": calendar.account,
        "status": calendar.status,
        "last_sync_at": calendar.last_sync_at,
    }


# --- Connect and disconnect ----------------------------------------------------------------------------------------


def personal_calendar_connect(*, person: Person, provider: str, grant: adapters.Grant) -> PersonalCalendar:
    """Store the person's grant (the refresh token encrypted); a new connection replaces the old one (whose grant
    is revoked at the provider where it can be). A reconnection keeps what was synced; a first one syncs at once."""
    if provider not in PROVIDERS:
        raise Invalid(_("Unknown calendar provider."))
    # Role-limited collection (the policy): a visitor's calendar only for a long enough stay (labs.permissions).
    require_role_allows(person, "calendar", _("A calendar connection"))
    if not grant.account or not grant.refresh_token:
        raise Invalid(_("The provider did not say which account consented."))
    taken = PersonalCalendar.objects.filter(provider=provider, account__iexact=grant.account).exclude(person=person)
    if taken.exists():  # one calendar, one person: its invitations must book for exactly one organiser
        # Not revoked: at Google, revoking any token of the account's grant would end the other person's too.
        raise Conflict(_("This calendar is already connected by someone else."))
    with transaction.atomic():
        calendar = PersonalCalendar.objects.select_for_update().filter(person=person).first()
        if calendar is not None and (calendar.provider, calendar.account) != (provider, grant.account):
            _forget(calendar, revoke=True)
            calendar = None
        if calendar is None:
            calendar = PersonalCalendar(person=person, provider=provider, watch_token=secrets.token_urlsafe(32))
        calendar.account = grant.account
        calendar.refresh_token = grant.refresh_token
        calendar.scopes = grant.scopes[:500]
        calendar.status = PersonalStatus.CONNECTED
        calendar.reconnect_notified_at = None
        calendar.last_error = ""
        calendar.full_clean(exclude=["person"])
        calendar.save()
        personal_sync_request(calendar.pk)
    cache.delete(_reconnect_key(person.pk))
    return calendar


def _forget(calendar: PersonalCalendar, *, revoke: bool) -> bool:
    """Stop the channel and revoke the grant (best effort), then delete the connection and everything synced."""
    revoked = False
    if revoke and calendar.status == PersonalStatus.CONNECTED:
        provider = adapters.personal_provider_for(calendar)
        if calendar.watch_id:
            try:
                provider.watch_stop(
                    Watch(id=calendar.watch_id, resource_id=calendar.watch_resource_id, expires_at=None)
                )
            except ProviderError as exc:
                logger.info("personal calendar %s: channel not stopped: %s", calendar.pk, exc)
        revoked = adapters.grant_revoke(calendar.provider, calendar.refresh_token)
    calendar.events.all().delete()
    cache.delete(_reconnect_key(calendar.person_id))
    calendar.delete()
    return revoked


def personal_calendar_disconnect(*, person: Person) -> bool:
    """``DELETE /api/v1/me/calendar/``: revoke at the provider where it can, delete the token and the synced event
    data here. The bookings stay (they are bookings); the events already in the calendar stay there."""
    calendar = PersonalCalendar.objects.filter(person=person).first()
    if calendar is None:
        return False
    return _forget(calendar, revoke=True)


# --- Sync requests ---------------------------------------------------------------------------------------------------


def personal_sync_request(calendar_id: int) -> None:
    from calendars import tasks

    enqueue_after_commit(tasks.personal_sync, calendar_id)


def on_bookings_changed(event: BookingsChanged) -> None:
    """After commit, from every door: sync the calendars of the organisers of bookings that changed (rooms only; a
    check-in changes nothing in a calendar; bookings made from a person's calendar are not written back to it)."""
    if event.change == BookingChange.CHECKED_IN:
        return
    in_step = _in_step.get() or set()
    ids = [pk for pk in event.booking_ids if pk not in in_step]
    if not ids:
        return
    calendars = (
        PersonalCalendar.objects.filter(
            status=PersonalStatus.CONNECTED,
            person__bookings__pk__in=ids,
            person__bookings__room__isnull=False,
        )
        .order_by()
        .values_list("pk", flat=True)
        .distinct()
    )
    for pk in calendars:
        personal_sync_request(pk)


def _reconnect_key(person_id: int) -> str:
    return f"calendars:personal:reconnect:{person_id}"


def reconnect_flagged(person_id: int) -> bool:
    """Whether the person must reconnect their calendar: a flag in the shared cache, so every portal page shows the
    banner without a query (set when the grant is lost, re-set by the periodic reconcile, cleared on connect)."""
    return bool(cache.get(_reconnect_key(person_id)))


def personal_reconcile() -> int:
    """Periodic: one sync of every connected personal calendar (converges when notifications or handlers were lost,
    and renews the channels); the reconnect banners are set again for those whose grant is gone."""
    for person_id in PersonalCalendar.objects.filter(status=PersonalStatus.NEEDS_RECONNECT).values_list(
        "person_id", flat=True
    ):
        cache.set(_reconnect_key(person_id), True, timeout=None)
    pks = list(PersonalCalendar.objects.filter(status=PersonalStatus.CONNECTED).values_list("pk", flat=True))
    for pk in pks:
        personal_sync_request(pk)
    return len(pks)


def personal_notified(*, calendar_id: int, kind: str = "change") -> None:
    if kind == "subscriptionRemoved":
        PersonalCalendar.objects.filter(pk=calendar_id).update(watch_id="", watch_expires_at=None)
    elif kind == "reauthorizationRequired":
        PersonalCalendar.objects.filter(pk=calendar_id).update(watch_expires_at=timezone.now())
    personal_sync_request(calendar_id)


# --- The sync -----------------------------------------------------------------------------------------------------

_in_step: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("personal_in_step", default=None)


@dataclass
class PersonalSyncResult:
    calendar_id: int
    ran: bool = True
    written: int = 0
    booked: int = 0
    declined: int = 0
    requests: int = 0
    error: str = ""


def _claim(calendar_id: int, now: datetime) -> bool:
    lease = now + settings.CALENDAR_SYNC_LEASE
    return bool(
        PersonalCalendar.objects.filter(pk=calendar_id, status=PersonalStatus.CONNECTED)
        .filter(Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now))
        .update(sync_claimed_until=lease)
    )


def personal_sync(*, calendar_id: int, now: datetime | None = None) -> PersonalSyncResult:
    """One sync of a person's calendar: push, pull, watch. A refused grant turns it to ``needs_reconnect``."""
    now = now or timezone.now()
    result = PersonalSyncResult(calendar_id=calendar_id)
    if not _claim(calendar_id, now):
        result.ran = False
        return result
    calendar = PersonalCalendar.objects.select_related("person__user", "person__site").get(pk=calendar_id)
    provider = adapters.personal_provider_for(calendar)
    token = _in_step.set(set())
    try:
        result.written = _push(calendar, provider, now)
        booked, declined = _pull(calendar, provider, now)
        result.booked, result.declined = booked, declined
        result.written += _push(calendar, provider, now)  # what the pull changed (a move refused, written back)
        _watch_ensure(calendar, provider, now)
        PersonalCalendar.objects.filter(pk=calendar.pk).update(last_sync_at=now, last_error="")
    except adapters.GrantRejected as exc:
        result.error = str(exc)
        grant_lost(calendar_id=calendar.pk, reason=str(exc))
    except ProviderError as exc:
        result.error = str(exc)
        logger.warning("personal calendar %s: sync failed: %s", calendar.pk, exc)
        PersonalCalendar.objects.filter(pk=calendar.pk).update(last_error=str(exc)[:500])
        if not isinstance(exc, adapters.GrantRejected) and exc.retryable:
            raise
    finally:
        _in_step.reset(token)
        result.requests = provider.requests
        fields = {"sync_claimed_until": None}
        if provider.credentials["refresh_token"] != calendar.refresh_token:  # rotated by the provider
            calendar.refresh_token = provider.credentials["refresh_token"]
            fields["refresh_token_ciphertext"] = calendar.refresh_token_ciphertext
        PersonalCalendar.objects.filter(pk=calendar.pk).update(**fields)
    return result


def grant_lost(*, calendar_id: int, reason: str) -> bool:
    """The provider refused the person's grant: ``needs_reconnect``, and one email (only the sync that flips the
    status sends it). Returns whether this call flipped it."""
    now = timezone.now()
    flipped = PersonalCalendar.objects.filter(pk=calendar_id, status=PersonalStatus.CONNECTED).update(
        status=PersonalStatus.NEEDS_RECONNECT, last_error=reason[:500], reconnect_notified_at=now, watch_id=""
    )
    if flipped:
        person_id = PersonalCalendar.objects.filter(pk=calendar_id).values_list("person_id", flat=True).first()
        cache.set(_reconnect_key(person_id), True, timeout=None)
        logger.error("personal calendar %s: grant refused, needs reconnecting: %s", calendar_id, reason)
        after_commit(_send_reconnect_email, calendar_id)
    return bool(flipped)


def _send_reconnect_email(calendar_id: int) -> None:
    calendar = PersonalCalendar.objects.select_related("person__user").filter(pk=calendar_id).first()
    if calendar is None or not calendar.person.user.email:
        return
    link = settings.PUBLIC_BASE_URL + "/calendar/"
    send_mail(
        _("Reconnect your calendar to Labs"),
        _(
            "Your %(provider)s calendar (%(account)s) no longer accepts Labs: the permission was revoked or has "
            "expired. Until you reconnect it, bookings will not appear in your calendar and invitations of rooms "
            "from it will not be booked.\n\nReconnect it on %(link)s"
        )
        % {"provider": calendar.get_provider_display(), "account": calendar.account, "link": link},
        None,
        [calendar.person.user.email],
    )


# push


def _location_of(room: Room, site) -> str:
    parts = [room.name, site.name]
    if site.address:
        parts.append(site.address)
    return ", ".join(parts)


def _location(booking: Booking) -> str:
    return _location_of(booking.room, booking.site)


def personal_outbound_event(booking: Booking, account: str) -> OutboundEvent:
    attendees = tuple(a.lower() for a in booking.attendees or [] if a and a.lower() != account.lower())
    return OutboundEvent(
        key=booking.uid.hex,
        title=booking.title or booking.room.name,
        start=booking.start,
        end=booking.end,
        timezone=booking.site.timezone,
        organiser_email=account,
        attendee_count=len(attendees),
        location=_location(booking),
        attendees=attendees,
    )


def _digest(event: OutboundEvent) -> str:
    people = hashlib.sha256("\n".join(sorted(event.attendees)).encode()).hexdigest()[:16]
    return f"{sync.outbound_digest(event)[:40]}:{people}"


def _write(provider, cal_id: str, link: PersonalEvent | None, event: OutboundEvent):
    """Update the event we wrote before, or create it when there is none or the person deleted it there."""
    if link is not None:
        try:
            return provider.event_update(cal_id, link.event_id, event)
        except ProviderError as exc:
            if exc.status not in {404, 410}:
                raise
    return provider.event_create(cal_id, event)


def _push(calendar: PersonalCalendar, provider, now: datetime) -> int:
    window = sync.sync_window(now)
    cal_id = adapters.calendar_id_of(calendar)
    links = {
        link.booking_id: link
        for link in calendar.events.filter(booking__isnull=False).exclude(state=EventLinkState.ENDED)
    }
    inbound = {pk for pk, link in links.items() if link.origin == EventOrigin.INBOUND}
    bookings = (
        Booking.objects.filter(
            organiser=calendar.person, room__isnull=False, end__gt=window.start, start__lt=window.end
        )
        .filter(Q(status__in=HOLDING_STATUSES) | Q(pk__in=list(links)))
        .exclude(pk__in=inbound)
        # A meeting booked from a room's calendar is already in its organiser's calendar (they made it there).
        .exclude(calendar_links__origin=EventOrigin.INBOUND)
        .select_related("room", "site")
        .order_by("start")
    )
    written = 0
    # Series as series: one recurring event per series (its rule, the occurrences not held as EXDATEs); an
    # occurrence moved off its rule is its own event.
    series_ids = {b.series_id for b in bookings if b.series_id and not b.is_moved}
    series_ids |= set(
        calendar.events.filter(series__isnull=False, state=EventLinkState.LINKED).values_list("series_id", flat=True)
    )
    as_series = set()
    for series in BookingSeries.objects.filter(pk__in=series_ids).select_related("room", "site"):
        done = _push_series(calendar, provider, series, cal_id)
        if done is not None:
            as_series.add(series.pk)
            written += done
    for booking in bookings:
        if booking.series_id in as_series and not booking.is_moved:
            continue
        link = links.get(booking.pk)
        holding = booking.status in HOLDING_STATUSES
        if not holding:
            if link is not None and link.state == EventLinkState.LINKED:
                provider.event_delete(cal_id, link.event_id)
                link.state = EventLinkState.ENDED
                link.save(update_fields=["state", "updated_at"])
                written += 1
            continue
        event = personal_outbound_event(booking, calendar.account)
        digest = _digest(event)
        if link is not None and link.digest == digest:
            continue
        remote = _write(provider, cal_id, link, event)
        PersonalEvent.objects.update_or_create(
            calendar=calendar,
            event_id=remote.id,
            defaults={
                "booking": booking,
                "origin": EventOrigin.OUTBOUND,
                "state": EventLinkState.LINKED,
                "etag": remote.etag,
                "ical_uid": remote.ical_uid,
                "digest": digest,
                "title": event.title[:200],
                "start": booking.start,
                "end": booking.end,
            },
        )
        if link is not None and link.event_id != remote.id:
            link.delete()
        written += 1
    return written


def _push_series(calendar: PersonalCalendar, provider, series: BookingSeries, cal_id: str) -> int | None:
    tz = series.site.tz
    duration = timedelta(minutes=series.duration_minutes)
    try:
        occurrences = recurrence.expand(series.rrule, first_start=series.first_start, duration=duration, tz=tz)
    except DomainError:
        return 0
    starts = [o.start for o in occurrences]
    held = {
        (b.recurrence_id or b.start)
        for b in series.occurrences.all()
        if b.status in HOLDING_STATUSES and not b.is_moved and b.room_id
    }
    link = calendar.events.filter(series=series, booking__isnull=True).exclude(state=EventLinkState.ENDED).first()
    if not held:
        if link is not None:
            provider.event_delete(cal_id, link.event_id)
            link.state = EventLinkState.ENDED
            link.save(update_fields=["state", "updated_at"])
            return 1
        return 0

    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    rule = ";".join(part for part in series.rrule.split(";") if part.split("=")[0].upper() not in {"COUNT", "UNTIL"})
    lines = [f"RRULE:{rule};UNTIL={utc(starts[-1])}"]
    missing = [start for start in starts if start not in held]
    if missing:
        lines.append("EXDATE:" + ",".join(utc(start) for start in missing))
    attendees = tuple(a.lower() for a in series.attendees or [] if a and a.lower() != calendar.account.lower())
    event = OutboundEvent(
        key=series.uid.hex,
        title=series.title or series.room.name,
        start=starts[0],
        end=starts[0] + duration,
        timezone=series.timezone or series.site.timezone,
        organiser_email=calendar.account,
        attendee_count=len(attendees),
        location=_location_of(series.room, series.site),
        attendees=attendees,
        recurrence=tuple(lines),
    )
    if not provider.supports_recurrence(event):
        return None  # a rule the provider cannot say: its occurrences are written one by one
    digest = hashlib.sha256("\n".join([_digest(event), *lines]).encode()).hexdigest()
    if link is not None and link.digest == digest:
        return 0
    remote = _write(provider, cal_id, link, event)
    PersonalEvent.objects.update_or_create(
        calendar=calendar,
        event_id=remote.id,
        defaults={
            "booking": None,
            "series": series,
            "origin": EventOrigin.OUTBOUND,
            "state": EventLinkState.LINKED,
            "etag": remote.etag,
            "ical_uid": remote.ical_uid,
            "digest": digest,
            "title": event.title[:200],
            "start": event.start,
            "end": starts[-1] + duration,
        },
    )
    return 1


# pull


def _pull(calendar: PersonalCalendar, provider, now: datetime) -> tuple[int, int]:
    window = sync.sync_window(now)
    cal_id = adapters.calendar_id_of(calendar)
    query = provider.query_fingerprint(cal_id, window)
    token = calendar.sync_token if calendar.sync_query == query else ""
    try:
        changes = provider.changes_list(cal_id, token=token or None, window=window)
    except SyncTokenInvalid:
        changes = provider.changes_list(cal_id, token=None, window=window)
    booked = declined = 0
    for event in changes.events:
        b, d = _apply(calendar, provider, event, now)
        booked += b
        declined += d
    PersonalCalendar.objects.filter(pk=calendar.pk).update(sync_token=changes.next_token, sync_query=query)
    calendar.sync_token, calendar.sync_query = changes.next_token, query
    return booked, declined


def _apply(calendar: PersonalCalendar, provider, event: RemoteEvent, now: datetime) -> tuple[int, int]:
    link = calendar.events.filter(event_id=event.id).select_related("booking").first()
    if link is not None and event.etag and link.etag == event.etag and not event.is_cancelled:
        return 0, 0  # our own write's echo, or a replayed change
    person = calendar.person
    if link is not None and link.origin == EventOrigin.OUTBOUND:
        return _outbound_changed_there(calendar, link, event), 0
    if event.booking_key:
        return 0, 0  # one of ours not recorded (yet): the push matches it by its id
    if event.is_cancelled:
        if link is not None and link.state == EventLinkState.LINKED and link.booking is not None:
            _cancel(person, link.booking)
            link.state = EventLinkState.ENDED
            link.save(update_fields=["state", "updated_at"])
        return 0, 0
    invited = _rooms_invited(event)
    organiser = (event.organiser_email or "").lower()
    if not invited or (organiser and organiser != calendar.account.lower()):
        if link is not None and link.state == EventLinkState.LINKED and link.booking is not None:
            _cancel(person, link.booking)  # the room was un-invited
            link.state = EventLinkState.ENDED
            link.save(update_fields=["state", "updated_at"])
        return 0, 0
    if event.start is None or event.end is None or event.all_day or event.end <= now:
        return 0, 0
    address, room = invited[0]
    if (
        link is not None
        and link.state == EventLinkState.DECLINED
        and (link.start, link.end) == (event.start, event.end)
    ):
        _remember(link, event)
        return 0, 0  # already declined as it is (our decline's echo)
    attendees = [a for a in event.invitees if a != address and a != calendar.account.lower() and "@" in a]
    attendees = [a for a in attendees if not a.endswith("@" + settings.CALENDAR_BOOKING_DOMAIN.lower())]
    source = BookingSource.GOOGLE if calendar.provider == "google" else BookingSource.MICROSOFT
    try:
        with transaction.atomic():
            if link is not None and link.state == EventLinkState.LINKED and link.booking is not None:
                booking = link.booking
                if booking.room_id != room.pk:
                    _cancel(person, booking)
                    booking = None
                elif (booking.start, booking.end) != (event.start, event.end) or booking.title != event.title[:200]:
                    booking = booking_services.booking_update(
                        actor=person, booking=booking, start=event.start, end=event.end, title=event.title[:200]
                    )
                if booking is not None:
                    _remember(link, event, booking=booking)
                    _in_step.get().add(booking.pk)
                    return 0, 0
            booking = booking_services.booking_create(
                actor=person,
                room=room,
                start=event.start,
                end=event.end,
                title=event.title[:200],
                attendees=attendees,
                source=source,
                now=now,
            )
            PersonalEvent.objects.update_or_create(
                calendar=calendar,
                event_id=event.id,
                defaults={
                    "booking": booking,
                    "origin": EventOrigin.INBOUND,
                    "state": EventLinkState.LINKED,
                    "etag": event.etag,
                    "ical_uid": event.ical_uid,
                    "title": event.title[:200],
                    "start": event.start,
                    "end": event.end,
                    "reason": "",
                },
            )
            _in_step.get().add(booking.pk)
        return 1, 0
    except DomainError as exc:
        reason = str(exc.detail if hasattr(exc, "detail") else exc)[:300]
        _decline(calendar, provider, event, address=address, room=room, reason=reason)
        return 0, 1


def _remember(link: PersonalEvent, event: RemoteEvent, *, booking: Booking | None = None) -> None:
    link.etag = event.etag
    link.start, link.end = event.start, event.end
    link.title = event.title[:200]
    if booking is not None:
        link.booking = booking
    link.save()


def _cancel(person: Person, booking: Booking) -> None:
    if booking.status in HOLDING_STATUSES:
        booking_services.booking_cancel(actor=person, booking=booking)
        _in_step.get().add(booking.pk)


def _outbound_changed_there(calendar: PersonalCalendar, link: PersonalEvent, event: RemoteEvent) -> int:
    """The person deleted or moved one of our events in their calendar: the booking follows (a move the rules
    refuse is written back at the next push)."""
    booking = link.booking
    if booking is None or link.state != EventLinkState.LINKED:
        return 0
    if event.is_cancelled:
        link.state = EventLinkState.ENDED
        link.save(update_fields=["state", "updated_at"])
        _cancel(calendar.person, booking)
        return 1
    link.etag = event.etag
    if event.start and event.end and (event.start, event.end) != (booking.start, booking.end):
        try:
            with transaction.atomic():
                booking = booking_services.booking_update(
                    actor=calendar.person, booking=booking, start=event.start, end=event.end
                )
            _in_step.get().add(booking.pk)
        except DomainError as exc:
            logger.info("personal calendar %s: a move of booking %s refused: %s", calendar.pk, booking.pk, exc)
        link.digest = ""  # write the booking as it is
    link.save()
    return 1


def _decline(calendar, provider, event: RemoteEvent, *, address: str, room: Room, reason: str) -> None:
    """The room declines the person's event in their calendar, with the reason; the person gets it by email."""
    cal_id = adapters.calendar_id_of(calendar)
    try:
        answered = provider.invitation_decline(cal_id, event, address=address, comment=reason)
        etag = answered.etag
    except ProviderError as exc:
        if exc.status in {404, 410}:
            return
        raise
    PersonalEvent.objects.update_or_create(
        calendar=calendar,
        event_id=event.id,
        defaults={
            "booking": None,
            "origin": EventOrigin.INBOUND,
            "state": EventLinkState.DECLINED,
            "etag": etag,
            "ical_uid": event.ical_uid,
            "title": event.title[:200],
            "start": event.start,
            "end": event.end,
            "reason": reason,
        },
    )
    email = calendar.person.user.email
    if email:
        when = timezone.localtime(event.start, room.site.tz).strftime("%Y-%m-%d %H:%M")
        after_commit(
            send_mail,
            _("%(room)s declined your meeting") % {"room": room.name},
            _('%(room)s could not be booked for "%(title)s" on %(when)s: %(reason)s')
            % {"room": room.name, "title": event.title or _("your meeting"), "when": when, "reason": reason},
            None,
            [email],
        )


# watch


def _watch_ensure(calendar: PersonalCalendar, provider, now: datetime) -> None:
    ttl = timedelta(hours=settings.CALENDAR_WATCH_HOURS)
    if calendar.watch_id and calendar.watch_expires_at and calendar.watch_expires_at - now > ttl / 2:
        return
    address = sync.notification_address(calendar.provider)
    lifecycle = sync.notification_address(calendar.provider, "lifecycle") if provider.needs_lifecycle_url else ""
    token = calendar.watch_token or secrets.token_urlsafe(32)
    cal_id = adapters.calendar_id_of(calendar)
    try:
        if calendar.watch_id:
            old = Watch(id=calendar.watch_id, resource_id=calendar.watch_resource_id, expires_at=None)
            watch = provider.watch_renew(
                cal_id, old, address=address, token=token, expires_at=now + ttl, lifecycle_address=lifecycle
            )
        else:
            watch = provider.watch_start(
                cal_id, address=address, token=token, expires_at=now + ttl, lifecycle_address=lifecycle
            )
    except adapters.GrantRejected:
        raise
    except ProviderError as exc:
        logger.warning("personal calendar %s: push channel not started: %s", calendar.pk, exc)
        return
    PersonalCalendar.objects.filter(pk=calendar.pk).update(
        watch_id=watch.id, watch_resource_id=watch.resource_id, watch_token=token, watch_expires_at=watch.expires_at
    )


# --- Privacy: export and erasure -------------------------------------------------------------------------------------


def personal_data_export(person: Person) -> list:
    """The person's connection, the events synced from their calendar, and the room calendars' events that hold their
    bookings or name them as external organiser (what ``selectors.person_calendar_data`` lists)."""
    from calendars.models import EventLink

    email = (person.user.email or "").lower()
    links = Q(booking__organiser=person)
    if email:
        links |= Q(organiser_email__iexact=email)
    return [
        PersonalCalendar.objects.filter(person=person),
        PersonalEvent.objects.filter(calendar__person=person),
        EventLink.objects.filter(links).distinct(),
    ]


def personal_data_erase(person: Person, pseudonym: str) -> None:
    """Erasure: the connection (its grant revoked where the provider allows) and every synced event of theirs; the
    room calendars' record of their address as an external organiser (``services.person_calendar_erase``)."""
    from calendars import services

    calendar = PersonalCalendar.objects.filter(person=person).first()
    if calendar is not None:
        try:
            _forget(calendar, revoke=True)
        except ProviderError as exc:
            logger.warning("personal calendar %s: not revoked at the provider on erasure: %s", calendar.pk, exc)
            PersonalCalendar.objects.filter(pk=calendar.pk).delete()
    services.person_calendar_erase(person=person)
