"""The provider interface: everything the sync engine asks of Google or Microsoft, in provider-neutral terms.

Interface version 1 (stable; a change is committed early on branch i-cal and noted here).

A provider adapter subclasses :class:`CalendarProvider`, registers under its name in :mod:`calendars.providers`
(``PROVIDERS``), and is built per use from a connection's decrypted credentials. The engine
(:mod:`calendars.sync`) never sees provider JSON: adapters translate to and from the dataclasses below.

Rules every adapter follows:

* **Endpoints from settings** (CALENDAR.md's variables: ``GOOGLE_API_ENDPOINT``, ``GOOGLE_ADMIN_API_ENDPOINT``,
  ``MS_GRAPH_ENDPOINT``, ``MS_AUTHORITY_HOST``, ``MS_CA_BUNDLE``), so tests and ``make run`` talk to the fakes.
* **Count every HTTP request** it sends to the provider API (retries included, token requests not) in
  ``self.requests``: the engine records it per sync ("an unchanged calendar costs one request").
* **Rate limits** (429, Google's 403 ``rateLimitExceeded``/``userRateLimitExceeded``, Graph's 503/504 with
  Retry-After): raise :class:`RateLimited` with the provider's Retry-After, and run each request through
  :meth:`CalendarProvider.call` which waits and retries in place a few times (settings ``CALENDAR_RETRY_*``) before
  letting it reach the task, which retries later. A sync token is only stored after every page was read and applied,
  so a sync cut short by a rate limit loses nothing and never treats unread events as deleted.
* **Errors**: an expired sync token (Google 410, Graph ``syncStateNotFound``/410) is :class:`SyncTokenInvalid`;
  refused credentials (``invalid_grant``, ``invalid_client``, 401 after a token refresh) are
  :class:`CredentialsRejected`; an event that is gone (404/410 on a write) is :class:`EventGone`; anything else is
  :class:`ProviderError`. Their messages name the provider's answer (they are shown to staff).
* **Times** are aware datetimes in UTC both ways. Adapters map Windows zone names to IANA (or ask for UTC).
* **Idempotent writes**: :meth:`event_create` is keyed by ``OutboundEvent.key`` (our booking's uid) so that a
  retried create never makes a second event (Google: the event id is derived from the key and a 409 means "already
  there"; Graph: ``transactionId``). Every written event carries the key where the provider allows it (Google
  ``extendedProperties.private``; Graph a single-value extended property) and adapters report it back in
  ``RemoteEvent.booking_key``; where a room copy drops it, the engine matches on ``ical_uid``.
* **Ids**: ``RemoteEvent.id`` is the id on the room's calendar. :meth:`event_create` may return the id of another
  copy (Graph: the organiser's copy; the room copy appears later with its own id and the same ``ical_uid``): the
  engine then keeps ``write_ref`` for writes and adopts the room copy's id when it matches it on ``ical_uid``.
* **Recurring events** are listed expanded into instances (Google ``singleEvents=true``, Graph ``calendarView``
  delta), each with ``recurring_event_id`` and ``original_start``; :meth:`series_get` returns the series' rule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar

from django.conf import settings

from labs.validators import control_characters, single_line

logger = logging.getLogger(__name__)

T = TypeVar("T")


# --- Errors ---------------------------------------------------------------------------------------------------


class ProviderError(Exception):
    """The provider answered with an error (or could not be reached); the message names its answer."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class RateLimited(ProviderError):
    """429, or 403 rateLimitExceeded: wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float = 1.0, status: int | None = 429):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = max(0.0, float(retry_after))


class SyncTokenInvalid(ProviderError):
    """The sync token (or deltaLink) expired: wipe it and sync the window in full."""

    def __init__(self, message: str = "The sync token is no longer valid; a full sync is required."):
        super().__init__(message, status=410, retryable=True)


class CredentialsRejected(ProviderError):
    """The provider refused the connection's credentials (expired grant, revoked key, wrong secret)."""

    def __init__(self, message: str, *, status: int | None = 401):
        super().__init__(message, status=status, retryable=False)


class EventGone(ProviderError):
    """The event does not exist (any more) at the provider."""

    def __init__(self, message: str = "The event no longer exists at the provider."):
        super().__init__(message, status=404, retryable=False)


# --- Data -----------------------------------------------------------------------------------------------------


class RoomResponse:
    """How the room answered an event (``RemoteEvent.room_response``)."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    NEEDS_ACTION = "needs_action"
    DECLINED = "declined"
    # The room's calendar owns the event (written straight into the room calendar): it holds the room.
    OWNER = "owner"

    HOLDING = frozenset({ACCEPTED, TENTATIVE, NEEDS_ACTION, OWNER})


@dataclass(frozen=True)
class SyncWindow:
    """The events to mirror: those overlapping [start, end) (UTC)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class RemoteEvent:
    """One event, or one instance of a recurring event, as seen on the room's calendar.

    ``status`` is ``"confirmed"`` or ``"cancelled"`` (cancelled, deleted, Graph ``@removed``); a cancelled event may
    carry only ``id`` (and, for an instance, ``recurring_event_id``/``original_start``).
    """

    id: str
    status: str = "confirmed"
    ical_uid: str = ""
    etag: str = ""
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    title: str = ""
    organiser_email: str = ""
    room_response: str = RoomResponse.ACCEPTED
    attendee_count: int = 0  # people invited besides the organiser and rooms
    booking_key: str = ""  # our OutboundEvent.key, when the event carries it (we wrote it)
    recurring_event_id: str = ""  # for an instance: its series' id
    original_start: datetime | None = None  # for an instance: its start in the series
    created: datetime | None = None
    updated: datetime | None = None
    write_ref: str = ""  # what event_update/event_delete/event_respond need; "" means ``id``
    # Personal calendars only (the adapters in providers/personal.py fill them): who is invited, where.
    invitees: tuple[str, ...] = ()
    location: str = ""

    def __post_init__(self) -> None:
        # What an organiser typed at Google or Microsoft: a title or place with a line break, a bell or U+2028 is
        # made one line here, where it enters, as every title and place here is (labs.validators); the booking
        # it becomes would otherwise be refused, and with it every later change of the room's calendar.
        for name in ("title", "location"):
            value = getattr(self, name)
            if value and control_characters(value):
                object.__setattr__(self, name, single_line(value))

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def ref(self) -> str:
        return self.write_ref or self.id


@dataclass(frozen=True)
class ChangeSet:
    """What :meth:`CalendarProvider.changes_list` read: every page, and the token for next time."""

    events: list[RemoteEvent]
    next_token: str
    full: bool  # True: a full listing of the window (absent events are gone); False: only changes since the token


@dataclass(frozen=True)
class SeriesInfo:
    """A recurring event's series: its rule (RFC 5545 RRULE, without the ``RRULE:`` prefix) in its own time zone."""

    id: str
    rrule: str
    start: datetime  # the first instance's start (aware UTC)
    end: datetime
    timezone: str  # IANA
    exdates: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class OutboundEvent:
    """What we write for a booking: only what a booking needs (CALENDAR.md, behaviour 7)."""

    key: str  # the booking's uid (hex): idempotency key and the property that marks our writes
    title: str
    start: datetime
    end: datetime
    timezone: str  # the site's IANA zone, for how the event shows
    organiser_email: str = ""
    attendee_count: int = 0
    location: str = ""  # the room's name
    # Personal calendars only: the people invited (the meeting notices), and for a series its RFC 5545 lines
    # (``RRULE:...`` with UNTIL in UTC, ``EXDATE:...`` in UTC) with ``start``/``end`` its first occurrence.
    attendees: tuple[str, ...] = ()
    recurrence: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoomResource:
    """A bookable room the provider knows (Google Directory resources.calendars, Graph places)."""

    calendar_id: str
    name: str
    capacity: int | None = None
    building: str = ""
    floor: str = ""


@dataclass(frozen=True)
class Watch:
    """A push channel (Google) or subscription (Graph) on a room's calendar."""

    id: str
    resource_id: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """One push notification, parsed by the provider class from the request (no connection needed).

    ``watch_id`` is the Google channel id or Graph subscriptionId; ``token`` is the channel token or clientState the
    request carried; ``kind`` is ``"change"`` or a Graph lifecycle event (``reauthorizationRequired``,
    ``subscriptionRemoved``, ``missed``) or Google's ``"sync"`` handshake.
    """

    watch_id: str
    token: str
    kind: str = "change"
    resource: str = ""


# --- The interface ---------------------------------------------------------------------------------------------


class CalendarProvider:
    """One connection's view of its provider. Subclasses implement every method that raises NotImplementedError.

    Instances are built per sync (or per request) by :func:`calendars.providers.provider_for` and are not shared
    between threads. ``requests`` counts API requests (see the module docstring).
    """

    name: ClassVar[str] = ""
    # Lifecycle notifications (Graph) need a URL given when the watch is created; Google has none.
    needs_lifecycle_url: ClassVar[bool] = False

    def __init__(self, *, credentials: dict, connection_id: int | None = None, sleep: Callable[[float], None] = None):
        self.credentials = credentials
        self.connection_id = connection_id
        self.requests = 0
        self._sleep = sleep or time.sleep

    # -- credentials (class-level: before a connection exists) --------------------------------------------------
    @classmethod
    def credentials_clean(cls, credentials: dict) -> dict:
        """Check the shape of ``credentials`` (the API's ``credentials`` object); raise ``labs.errors.Invalid``.

        Returns what is stored (encrypted). Never contacts the provider."""
        raise NotImplementedError

    def credentials_verify(self) -> None:
        """Obtain a token with the credentials: raise :class:`CredentialsRejected` naming the provider's answer."""
        raise NotImplementedError

    # -- rooms --------------------------------------------------------------------------------------------------
    def resources_list(self) -> list[RoomResource]:
        raise NotImplementedError

    # -- reading --------------------------------------------------------------------------------------------------
    def query_fingerprint(self, calendar_id: str, window: SyncWindow) -> str:
        """A short string naming the query a sync token belongs to (calendar, expansion, and for providers whose
        token fixes the window, the window). The engine keeps it beside the token and never uses a token with a
        different query ("one sync token reused across different queries")."""
        return f"{self.name}:{calendar_id}:v1"

    def changes_list(self, calendar_id: str, *, token: str | None, window: SyncWindow) -> ChangeSet:
        """Every page of events: with ``token``, the changes since it; without, the whole window (a full sync).

        Instances of recurring events come expanded. Raises :class:`SyncTokenInvalid` when the token expired."""
        raise NotImplementedError

    def series_get(self, calendar_id: str, series_id: str) -> SeriesInfo | None:
        """The rule of a recurring event (None if it has none or is gone)."""
        raise NotImplementedError

    # -- writing (the room's calendar) ----------------------------------------------------------------------------
    def event_create(self, calendar_id: str, event: OutboundEvent) -> RemoteEvent:
        """Put a booking on the room's calendar; idempotent by ``event.key``. Returns the event as the room's
        calendar will list it (its ``id``, ``ical_uid``, ``etag``, and ``write_ref`` when writes need another id)."""
        raise NotImplementedError

    def event_update(self, calendar_id: str, ref: str, event: OutboundEvent) -> RemoteEvent:
        """Re-time or retitle an event we wrote. Raises :class:`EventGone` if it no longer exists."""
        raise NotImplementedError

    def event_delete(self, calendar_id: str, ref: str) -> None:
        """Remove an event we wrote (an event already gone is not an error)."""
        raise NotImplementedError

    def event_respond(self, calendar_id: str, event: RemoteEvent, *, accept: bool, comment: str = "") -> None:
        """The room accepts or declines someone else's event, with ``comment`` as the reason (Google: the room
        attendee's ``responseStatus``; Graph: the room mailbox's accept/decline). An event written straight into
        the room's calendar (``RoomResponse.OWNER``) that must be declined is removed from it instead."""
        raise NotImplementedError

    # -- push ---------------------------------------------------------------------------------------------------
    def watch_start(
        self,
        calendar_id: str,
        *,
        address: str,
        token: str,
        expires_at: datetime,
        lifecycle_address: str = "",
    ) -> Watch:
        """Start a channel/subscription that POSTs to ``address`` with ``token`` (channel token / clientState)."""
        raise NotImplementedError

    def watch_stop(self, watch: Watch) -> None:
        """Stop a channel/subscription (one already gone is not an error)."""
        raise NotImplementedError

    def watch_renew(
        self, calendar_id: str, watch: Watch, *, address: str, token: str, expires_at: datetime, lifecycle_address=""
    ) -> Watch:
        """Extend a watch. Default (Google has no renew): a new overlapping channel, then stop the old one."""
        new = self.watch_start(
            calendar_id, address=address, token=token, expires_at=expires_at, lifecycle_address=lifecycle_address
        )
        try:
            self.watch_stop(watch)
        except ProviderError as exc:
            logger.warning("could not stop the replaced channel %s: %s", watch.id, exc)
        return new

    @classmethod
    def notifications_parse(cls, *, headers, body: bytes) -> list[Notification]:
        """The notifications in one push request (``headers``: the request's headers mapping). Raise ValueError for
        a request that is not a notification of this provider."""
        raise NotImplementedError

    # -- helpers for adapters -------------------------------------------------------------------------------------
    def call(self, describe: str, request: Callable[[], T]) -> T:
        """Run ``request`` (one provider request; it raises :class:`RateLimited` on 429 and the like), counting it
        and retrying rate limits in place up to ``CALENDAR_RETRY_ATTEMPTS`` times while the wait is at most
        ``CALENDAR_RETRY_MAX_WAIT`` seconds; then the :class:`RateLimited` reaches the caller (the task retries)."""
        attempts = settings.CALENDAR_RETRY_ATTEMPTS
        for attempt in range(attempts + 1):
            self.requests += 1
            try:
                return request()
            except RateLimited as exc:
                wait = max(exc.retry_after, 0.05 * 2**attempt)
                if attempt >= attempts or wait > settings.CALENDAR_RETRY_MAX_WAIT:
                    raise
                logger.info("%s: rate limited, retrying in %.2fs (attempt %d)", describe, wait, attempt + 1)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


# --- Tokens shared by every worker -------------------------------------------------------------------------------


def shared_token_get(key: str) -> dict | None:
    """A cached access token (or msal token cache) shared by all workers through the Django cache (Redis in
    production), encrypted with labs.crypto; None when absent or unreadable."""
    from django.core.cache import cache

    from labs import crypto

    stored = cache.get(f"calendars:token:{key}")
    if not stored:
        return None
    try:
        return crypto.decrypt_json(stored)
    except crypto.Undecryptable:
        return None


def shared_token_set(key: str, value: dict, *, ttl_seconds: int) -> None:
    from django.core.cache import cache

    from labs import crypto

    cache.set(f"calendars:token:{key}", crypto.encrypt_json(value), timeout=max(1, int(ttl_seconds)))
