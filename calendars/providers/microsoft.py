"""Microsoft 365 room mailboxes through Microsoft Graph: the Microsoft adapter of the provider interface.

* **Tokens**: one msal ``ConfidentialClientApplication`` (client credentials) per connection and process, whose
  token cache is serialised into the shared cache (:func:`~calendars.providers.base.shared_token_get`, encrypted,
  Redis in production) so every worker uses one token until it expires. The authority is
  ``MS_AUTHORITY_HOST/{tenant}`` with instance discovery off, so msal asks nothing of Microsoft's discovery service
  (only the authority's own ``/v2.0/.well-known/openid-configuration``).
* **Trust**: every request, msal's included, passes ``verify=MS_CA_BUNDLE`` (or the system's trust when unset)
  itself, because requests lets ``REQUESTS_CA_BUNDLE`` in the environment override a session's ``verify``.
* **Reading**: ``GET /users/{room}/calendarView/delta`` with ``Prefer: outlook.timezone="UTC"`` and
  ``odata.maxpagesize``; the ``@odata.deltaLink`` is the sync token. Its window is fixed by the first call, so the
  query fingerprint names the window and the engine never reuses a token for another window. Instances come
  expanded (occurrences and exceptions carry ``seriesMasterId`` and ``originalStart``); ``@removed`` items and
  cancelled events are cancellations; a 410 ``syncStateNotFound`` is :class:`SyncTokenInvalid`.
* **Writing**: from the connection's service mailbox (``credentials["service_mailbox"]``), with the room as a
  ``resource`` attendee, so the room mailbox runs its own conflict check; the booking's key travels as a
  single-value extended property and as the ``transactionId`` (a retried create returns the same event). The room's
  copy of our event has another id, its subject rewritten and the property dropped: the engine matches it on
  ``iCalUId``. Without a service mailbox the adapter writes straight into the room's calendar.
* **Limits**: at most :data:`MAILBOX_CONCURRENCY` requests in flight per mailbox across every worker (slots in the
  shared cache); 429 and 503/504 with ``Retry-After`` are :class:`RateLimited`, retried in place by
  :meth:`CalendarProvider.call`.
* **Time zones**: UTC is asked for; a Windows zone name that still comes (``originalStartTimeZone``, a recurrence's
  ``recurrenceTimeZone``) is mapped to IANA with CLDR's windowsZones table (``tzlocal.windows_tz``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msal
import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from tzlocal.windows_tz import tz_win, win_tz

from calendars.providers.base import (
    CalendarProvider,
    ChangeSet,
    CredentialsRejected,
    EventGone,
    Notification,
    OutboundEvent,
    ProviderError,
    RateLimited,
    RemoteEvent,
    RoomResource,
    RoomResponse,
    SeriesInfo,
    SyncTokenInvalid,
    SyncWindow,
    Watch,
    shared_token_get,
    shared_token_set,
)
from labs.errors import Invalid

logger = logging.getLogger(__name__)

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
# Our writes carry the booking's key in this named property (a GUID of our own, fixed forever).
BOOKING_PROPERTY_ID = "String {4c1a5b2e-7d3f-4e8a-9b61-2f0c8d5e7a14} Name labs.bookingKey"
MAILBOX_CONCURRENCY = 4
SUBSCRIPTION_MAX = timedelta(minutes=10080 - 10)  # Outlook events: under 7 days; keep a margin for clock skew
CHANGE_TYPES = "created,updated,deleted"
_RESPONSES = {
    "accepted": RoomResponse.ACCEPTED,
    "tentativelyAccepted": RoomResponse.TENTATIVE,
    "notResponded": RoomResponse.NEEDS_ACTION,
    "none": RoomResponse.NEEDS_ACTION,
    "declined": RoomResponse.DECLINED,
    "organizer": RoomResponse.OWNER,
}
_GUID_OR_DOMAIN = re.compile(r"^(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|[A-Za-z0-9.-]+\.[A-Za-z]{2,})$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


# --- time zones ---------------------------------------------------------------------------------------------------


def iana_zone(name: str | None) -> ZoneInfo:
    """The IANA zone of a Graph time-zone name (Windows names through CLDR windowsZones; IANA names as they are)."""
    if not name or name in {"UTC", "tzone://Microsoft/Utc"}:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(win_tz.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderError(f"Microsoft sent a time zone this server cannot map: {name!r}.", retryable=False) from None


def windows_zone(iana: str) -> str:
    """The Windows name of an IANA zone (what Outlook shows), or UTC."""
    return tz_win.get(iana) or "UTC"


def parse_graph_datetime(value: dict | None) -> datetime | None:
    """A Graph ``dateTimeTimeZone`` (``{"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}``) as UTC."""
    if not value or not value.get("dateTime"):
        return None
    moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=iana_zone(value.get("timeZone")))
    return moment.astimezone(UTC)


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _zulu(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- recurrence: Graph's patternedRecurrence as an RFC 5545 RRULE -----------------------------------------------

_DAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


def recurrence_to_rrule(recurrence: dict, tz: ZoneInfo) -> str:
    """Graph's ``patternedRecurrence`` as an RRULE (no ``RRULE:`` prefix); an ``endDate`` is inclusive, so UNTIL is
    the end of that day in the series' zone."""
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    kind = pattern.get("type")
    interval = int(pattern.get("interval") or 1)
    days = ",".join(_DAYS[d.lower()] for d in pattern.get("daysOfWeek") or [])
    index = _INDEX.get((pattern.get("index") or "first").lower(), 1)
    if kind == "daily":
        parts = ["FREQ=DAILY"]
    elif kind == "weekly":
        parts = ["FREQ=WEEKLY", f"BYDAY={days}"] if days else ["FREQ=WEEKLY"]
        parts.append(f"WKST={_DAYS[(pattern.get('firstDayOfWeek') or 'sunday').lower()]}")
    elif kind == "absoluteMonthly":
        parts = ["FREQ=MONTHLY", f"BYMONTHDAY={int(pattern['dayOfMonth'])}"]
    elif kind == "relativeMonthly":
        parts = ["FREQ=MONTHLY", f"BYDAY={days}", f"BYSETPOS={index}"]
    elif kind == "absoluteYearly":
        parts = ["FREQ=YEARLY", f"BYMONTH={int(pattern['month'])}", f"BYMONTHDAY={int(pattern['dayOfMonth'])}"]
    elif kind == "relativeYearly":
        parts = ["FREQ=YEARLY", f"BYMONTH={int(pattern['month'])}", f"BYDAY={days}", f"BYSETPOS={index}"]
    else:
        raise ProviderError(f"Microsoft sent a recurrence pattern this server does not know: {kind!r}.")
    if interval != 1:
        parts.insert(1, f"INTERVAL={interval}")
    if span.get("type") == "numbered" and span.get("numberOfOccurrences"):
        parts.append(f"COUNT={int(span['numberOfOccurrences'])}")
    elif span.get("type") == "endDate" and span.get("endDate"):
        last = datetime.combine(date.fromisoformat(span["endDate"]), datetime.max.time(), tzinfo=tz)
        parts.append(f"UNTIL={last.replace(microsecond=0).astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


# --- HTTP: trust passed on every request ------------------------------------------------------------------------


class _Session(requests.Session):
    """A session that passes ``verify`` on every request, so ``REQUESTS_CA_BUNDLE`` cannot override it."""

    def __init__(self, verify: str | bool):
        super().__init__()
        self._verify = verify

    def request(self, method, url, **kwargs):
        kwargs["verify"] = self._verify
        kwargs.setdefault("timeout", settings.CALENDAR_HTTP_TIMEOUT)
        return super().request(method, url, **kwargs)


def _verify() -> str | bool:
    return settings.MS_CA_BUNDLE or True


_sessions = threading.local()


def _graph_session() -> _Session:
    """This thread's session for Graph (kept, so syncs reuse warm TLS connections; one per trust setting)."""
    verify = _verify()
    cached = getattr(_sessions, "by_verify", None)
    if cached is None:
        cached = _sessions.by_verify = {}
    if verify not in cached:
        cached[verify] = _Session(verify)
    return cached[verify]


# --- msal applications: one per connection and process; their token cache shared by every worker ------------------

_apps: dict[str, tuple[msal.ConfidentialClientApplication, threading.Lock]] = {}
_apps_lock = threading.Lock()


def _app_key(credentials: dict) -> str:
    material = "|".join(
        [settings.MS_AUTHORITY_HOST, credentials["tenant_id"], credentials["client_id"], credentials["client_secret"]]
    )
    return "microsoft:" + hashlib.sha256(material.encode()).hexdigest()[:32]


def _app(credentials: dict) -> tuple[str, msal.ConfidentialClientApplication, threading.Lock]:
    key = _app_key(credentials)
    with _apps_lock:
        found = _apps.get(key)
    if found is None:
        try:
            app = msal.ConfidentialClientApplication(
                credentials["client_id"],
                client_credential=credentials["client_secret"],
                authority=f"{settings.MS_AUTHORITY_HOST.rstrip('/')}/{credentials['tenant_id']}",
                instance_discovery=False,  # only the authority's own discovery document, never Microsoft's service
                http_client=_Session(_verify()),
                token_cache=msal.SerializableTokenCache(),
            )
        except ValueError as exc:  # msal's tenant discovery: an unknown tenant, or an unreachable authority
            raise CredentialsRejected(
                f"Microsoft refused the tenant {credentials['tenant_id']!r}: {_discovery_error(exc)}"[:480], status=400
            ) from None
        except (requests.RequestException, OSError) as exc:
            raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
        with _apps_lock:
            found = _apps.setdefault(key, (app, threading.Lock()))
    return key, *found


# --- the adapter ---------------------------------------------------------------------------------------------------


class _Unauthorized(Exception):
    """Graph refused the access token (401): get a new one once, then give up."""

    def __init__(self, message: str):
        super().__init__(message)


class MicrosoftProvider(CalendarProvider):
    """Room mailboxes of one Microsoft 365 tenant, through Graph with an app registration's client credentials."""

    name = "microsoft"
    needs_lifecycle_url = True

    def __init__(self, *, credentials: dict, connection_id: int | None = None, sleep=None):
        super().__init__(credentials=credentials, connection_id=connection_id, sleep=sleep)
        self.graph = settings.MS_GRAPH_ENDPOINT.rstrip("/")
        self.service_mailbox = (credentials.get("service_mailbox") or "").strip()
        self._session = _graph_session()
        self._token: str | None = None

    # -- credentials ------------------------------------------------------------------------------------------------

    @classmethod
    def credentials_clean(cls, credentials: dict) -> dict:
        if not isinstance(credentials, dict):
            raise Invalid("Microsoft credentials are an object.", extra={"credentials": ["Expected an object."]})
        errors: dict[str, str] = {}
        cleaned = {}
        for field_name in ("tenant_id", "client_id", "client_secret"):
            value = credentials.get(field_name)
            if not isinstance(value, str) or not value.strip():
                errors[field_name] = "This field is required."
            else:
                cleaned[field_name] = value.strip()
        if "tenant_id" in cleaned and not _GUID_OR_DOMAIN.match(cleaned["tenant_id"]):
            errors["tenant_id"] = "A tenant id is a GUID or the tenant's domain."
        if "client_id" in cleaned and not _GUID.match(cleaned["client_id"]):
            errors["client_id"] = "A client id is the app registration's GUID."
        mailbox = credentials.get("service_mailbox")
        if mailbox not in (None, ""):
            try:
                validate_email(mailbox)
                cleaned["service_mailbox"] = mailbox.strip()
            except (ValidationError, TypeError):
                errors["service_mailbox"] = "The service mailbox is an email address."
        unknown = sorted(set(credentials) - {"tenant_id", "client_id", "client_secret", "service_mailbox"})
        if unknown:
            errors[unknown[0]] = "Unknown field."
        if errors:
            detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
            raise Invalid(
                f"Microsoft credentials are not valid ({detail}).",
                extra={"credentials": [f"{k}: {v}" for k, v in errors.items()]},
            )
        return cleaned

    def credentials_verify(self) -> None:
        self._token = None
        self._access_token()

    def _access_token(self) -> str:
        """A token for Graph from the shared cache, or from the identity platform (stored for every worker)."""
        if self._token:
            return self._token
        key, app, lock = _app(self.credentials)
        with lock:
            shared = shared_token_get(key)
            app.token_cache.deserialize((shared or {}).get("msal"))
            try:
                result = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
            except (requests.RequestException, OSError) as exc:
                raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
            if "access_token" not in result:
                error = result.get("error", "error")
                description = (result.get("error_description") or "").split("\r\n")[0]
                message = f"Microsoft refused the credentials: {error}: {description}"
                if error in {"invalid_client", "unauthorized_client", "invalid_request", "invalid_tenant"}:
                    raise CredentialsRejected(message[:480], status=401)
                raise ProviderError(message[:480])
            if app.token_cache.has_state_changed:
                shared_token_set(key, {"msal": app.token_cache.serialize()}, ttl_seconds=int(result["expires_in"]))
        self._token = result["access_token"]
        return self._token

    def _token_forget(self) -> None:
        """Graph refused our token: drop it from the shared cache and this process's msal app."""
        key, app, lock = _app(self.credentials)
        with lock:
            shared_token_set(key, {"msal": None}, ttl_seconds=1)
            app.token_cache.deserialize(None)
        self._token = None

    # -- HTTP ---------------------------------------------------------------------------------------------------------

    @contextmanager
    def _slot(self, mailbox: str) -> Iterator[None]:
        """Hold one of the mailbox's request slots (shared by every worker through the cache)."""
        if not mailbox:
            yield
            return
        digest = hashlib.sha256(mailbox.lower().encode()).hexdigest()[:24]
        hold = settings.CALENDAR_HTTP_TIMEOUT + 5
        deadline = time.monotonic() + hold
        mine = uuid.uuid4().hex
        while True:
            for slot in range(MAILBOX_CONCURRENCY):
                key = f"calendars:ms:slot:{digest}:{slot}"
                if cache.add(key, mine, timeout=hold):
                    try:
                        yield
                    finally:
                        if cache.get(key) == mine:
                            cache.delete(key)
                    return
            if time.monotonic() > deadline:
                raise RateLimited(f"{mailbox}: {MAILBOX_CONCURRENCY} requests already in flight.", retry_after=1)
            time.sleep(0.02)

    def _request(
        self,
        method: str,
        url: str,
        *,
        mailbox: str,
        describe: str,
        json_body: dict | None = None,
        prefer: str = 'outlook.timezone="UTC"',
        gone_ok: bool = False,
    ) -> dict | None:
        """One Graph request through :meth:`call` (counted, rate limits retried), with one re-authentication."""

        def attempt() -> dict | None:
            headers = {
                "Authorization": f"Bearer {self._access_token()}",
                "Prefer": prefer,
                "client-request-id": str(uuid.uuid4()),
                "Accept": "application/json",
            }
            with self._slot(mailbox):
                try:
                    response = self._session.request(method, url, headers=headers, json=json_body)
                except (requests.RequestException, OSError) as exc:  # OSError: MS_CA_BUNDLE names no file
                    raise ProviderError(f"{describe}: Microsoft Graph could not be reached ({exc}).") from None
            return self._answer(response, describe=describe, gone_ok=gone_ok)

        try:
            return self.call(describe, attempt)
        except _Unauthorized:
            self._token_forget()
        try:
            return self.call(describe, attempt)
        except _Unauthorized as exc:
            raise CredentialsRejected(f"{describe}: Microsoft Graph refused the token: {exc}") from None

    def _answer(self, response: requests.Response, *, describe: str, gone_ok: bool) -> dict | None:
        status = response.status_code
        if status < 300:
            if status == 204 or not response.content:
                return None
            return response.json()
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        code = error.get("code", "") if isinstance(error, dict) else str(error)
        message = f"{describe}: Microsoft Graph answered {status} {code}: {error.get('message', '')}".strip()[:480]
        if status == 401:
            raise _Unauthorized(message)
        if status == 429 or (status in {503, 504} and response.headers.get("Retry-After")):
            raise RateLimited(message, retry_after=_retry_after(response), status=status)
        if status == 410 or code.lower() in {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}:
            raise SyncTokenInvalid(message)
        if status == 404 and code not in {"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"}:
            if gone_ok:
                return None
            raise EventGone(message)
        raise ProviderError(message, status=status, retryable=status >= 500)

    def _user(self, mailbox: str) -> str:
        return f"{self.graph}/users/{quote(mailbox, safe='@')}"

    def _writer(self, calendar_id: str) -> str:
        return self.service_mailbox or calendar_id

    # -- rooms --------------------------------------------------------------------------------------------------------

    def resources_list(self) -> list[RoomResource]:
        url: str | None = f"{self.graph}/places/microsoft.graph.room?$top=100"
        rooms = []
        while url:
            page = self._request("GET", url, mailbox="", describe="list rooms") or {}
            for place in page.get("value", []):
                floor = place.get("floorLabel") or place.get("floorNumber")
                rooms.append(
                    RoomResource(
                        calendar_id=place.get("emailAddress") or "",
                        name=place.get("displayName") or "",
                        capacity=place.get("capacity"),
                        building=place.get("building") or "",
                        floor="" if floor is None else str(floor),
                    )
                )
            url = self._own_link(page.get("@odata.nextLink"))
        return [room for room in rooms if room.calendar_id]

    def _own_link(self, link: str | None) -> str | None:
        """A next/delta link, only if it points at our Graph endpoint (the bearer token goes nowhere else)."""
        if not link:
            return None
        ours, theirs = urlsplit(self.graph), urlsplit(link)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ProviderError(f"Microsoft Graph sent a link to another host: {theirs.netloc}.", retryable=False)
        return link

    # -- reading ------------------------------------------------------------------------------------------------------

    def query_fingerprint(self, calendar_id: str, window: SyncWindow) -> str:
        # A deltaLink encodes its window: a token is good for exactly one (calendar, window).
        return f"microsoft:v1:{calendar_id.lower()}:{_zulu(window.start)}:{_zulu(window.end)}"

    def changes_list(self, calendar_id: str, *, token: str | None, window: SyncWindow) -> ChangeSet:
        if token:
            try:
                url = self._own_link(token)
            except ProviderError:
                raise SyncTokenInvalid("The stored deltaLink points at another Graph endpoint.") from None
        else:
            url = (
                f"{self._user(calendar_id)}/calendarView/delta"
                f"?startDateTime={_zulu(window.start)}&endDateTime={_zulu(window.end)}"
            )
        prefer = f'outlook.timezone="UTC", odata.maxpagesize={settings.CALENDAR_PAGE_SIZE}'
        found: dict[str, RemoteEvent] = {}
        while True:
            page = self._request("GET", url, mailbox=calendar_id, describe=f"{calendar_id}: delta", prefer=prefer)
            page = page or {}
            for item in page.get("value", []):
                event = self._event(item, calendar_id)
                found.pop(event.id, None)  # a replayed change: keep its latest state, in its latest place
                found[event.id] = event
            if page.get("@odata.nextLink"):
                url = self._own_link(page["@odata.nextLink"])
                continue
            if not page.get("@odata.deltaLink"):
                raise ProviderError(f"{calendar_id}: Graph's delta answer had neither a nextLink nor a deltaLink.")
            return ChangeSet(events=list(found.values()), next_token=page["@odata.deltaLink"], full=not token)

    def _event(self, item: dict, calendar_id: str) -> RemoteEvent:
        """One item of a room's calendar as the engine sees it."""
        if "@removed" in item:
            return RemoteEvent(id=item["id"], status="cancelled")
        organiser = ((item.get("organizer") or {}).get("emailAddress") or {}).get("address") or ""
        own = (item.get("responseStatus") or {}).get("response") or "none"
        if item.get("isOrganizer"):
            own = "organizer"
        people = [
            a
            for a in item.get("attendees") or []
            if (a.get("type") or "").lower() != "resource"
            and ((a.get("emailAddress") or {}).get("address") or "").lower() != organiser.lower()
        ]
        key = next(
            (
                p.get("value") or ""
                for p in item.get("singleValueExtendedProperties") or []
                if (p.get("id") or "").lower() == BOOKING_PROPERTY_ID.lower()
            ),
            "",
        )
        return RemoteEvent(
            id=item["id"],
            status="cancelled" if item.get("isCancelled") else "confirmed",
            ical_uid=item.get("iCalUId") or "",
            etag=item.get("changeKey") or "",
            start=parse_graph_datetime(item.get("start")),
            end=parse_graph_datetime(item.get("end")),
            all_day=bool(item.get("isAllDay")),
            title=item.get("subject") or "",
            organiser_email=organiser.lower(),
            room_response=_RESPONSES.get(own, RoomResponse.NEEDS_ACTION),
            attendee_count=len(people),
            booking_key=key,
            recurring_event_id=item.get("seriesMasterId") or "",
            original_start=_parse_iso(item.get("originalStart")),
            created=_parse_iso(item.get("createdDateTime")),
            updated=_parse_iso(item.get("lastModifiedDateTime")),
        )

    def series_get(self, calendar_id: str, series_id: str) -> SeriesInfo | None:
        master = self._request(
            "GET",
            f"{self._user(calendar_id)}/events/{quote(series_id, safe='')}",
            mailbox=calendar_id,
            describe=f"{calendar_id}: series",
            gone_ok=True,
        )
        if not master or not master.get("recurrence"):
            return None
        span = master["recurrence"].get("range") or {}
        tz = iana_zone(span.get("recurrenceTimeZone") or master.get("originalStartTimeZone"))
        start, end = parse_graph_datetime(master.get("start")), parse_graph_datetime(master.get("end"))
        return SeriesInfo(
            id=series_id,
            rrule=recurrence_to_rrule(master["recurrence"], tz),
            start=start,
            end=end,
            timezone=tz.key,
        )

    # -- writing ------------------------------------------------------------------------------------------------------

    def _body(self, calendar_id: str, event: OutboundEvent) -> dict:
        zone_name = windows_zone(event.timezone)
        tz = iana_zone(zone_name)
        detail = f"Booked in Labs by {event.organiser_email or 'staff'}"
        if event.attendee_count:
            detail += f" for {event.attendee_count} people"
        body = {
            "subject": event.title,
            "body": {"contentType": "text", "content": detail + "."},
            "start": {"dateTime": event.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone_name},
            "end": {"dateTime": event.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone_name},
            "location": {"displayName": event.location or calendar_id},
            "showAs": "busy",
            "isReminderOn": False,
            "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY_ID, "value": event.key}],
        }
        if self.service_mailbox:
            # Invited as a resource, the room mailbox runs its own conflict check and answers.
            body["attendees"] = [
                {"emailAddress": {"address": calendar_id, "name": event.location or calendar_id}, "type": "resource"}
            ]
        return body

    def _written(self, calendar_id: str, mailbox: str, item: dict, event: OutboundEvent) -> RemoteEvent:
        """Our write as the engine records it: the room's calendar lists the room copy (another id, same iCalUId)
        when we wrote from the service mailbox; ``write_ref`` names the copy we change."""
        room = next(
            (
                a
                for a in item.get("attendees") or []
                if ((a.get("emailAddress") or {}).get("address") or "").lower() == calendar_id.lower()
            ),
            None,
        )
        response = ((room or {}).get("status") or {}).get("response") or "none"
        direct = mailbox.lower() == calendar_id.lower()
        return RemoteEvent(
            id=item["id"],
            ical_uid=item.get("iCalUId") or "",
            etag=(item.get("changeKey") or "") if direct else "",
            start=parse_graph_datetime(item.get("start")) or event.start,
            end=parse_graph_datetime(item.get("end")) or event.end,
            title=item.get("subject") or event.title,
            organiser_email=mailbox.lower(),
            room_response=RoomResponse.OWNER if direct else _RESPONSES.get(response, RoomResponse.NEEDS_ACTION),
            booking_key=event.key,
            write_ref="" if direct else f"{mailbox}|{item['id']}",
        )

    def _ref(self, calendar_id: str, ref: str) -> tuple[str, str]:
        mailbox, _, event_id = ref.rpartition("|")
        return (mailbox or calendar_id), event_id

    def event_create(self, calendar_id: str, event: OutboundEvent) -> RemoteEvent:
        mailbox = self._writer(calendar_id)
        body = self._body(calendar_id, event) | {"transactionId": f"labs-{event.key}"[:64]}
        item = self._request(
            "POST",
            f"{self._user(mailbox)}/events",
            mailbox=mailbox,
            describe=f"{calendar_id}: create the event of booking {event.key}",
            json_body=body,
        )
        return self._written(calendar_id, mailbox, item, event)

    def event_update(self, calendar_id: str, ref: str, event: OutboundEvent) -> RemoteEvent:
        mailbox, event_id = self._ref(calendar_id, ref)
        item = self._request(
            "PATCH",
            f"{self._user(mailbox)}/events/{quote(event_id, safe='')}",
            mailbox=mailbox,
            describe=f"{calendar_id}: update the event of booking {event.key}",
            json_body=self._body(calendar_id, event),
        )
        return self._written(calendar_id, mailbox, item, event)

    def event_delete(self, calendar_id: str, ref: str) -> None:
        mailbox, event_id = self._ref(calendar_id, ref)
        # The organiser deleting a meeting sends the room its cancellation; the room copy leaves the room calendar.
        self._request(
            "DELETE",
            f"{self._user(mailbox)}/events/{quote(event_id, safe='')}",
            mailbox=mailbox,
            describe=f"{calendar_id}: delete an event",
            gone_ok=True,
        )

    def event_respond(self, calendar_id: str, event: RemoteEvent, *, accept: bool, comment: str = "") -> None:
        mailbox, event_id = self._ref(calendar_id, event.ref)
        url = f"{self._user(mailbox)}/events/{quote(event_id, safe='')}"
        if not accept and event.room_response == RoomResponse.OWNER:
            # Written straight into the room's calendar: nobody to answer, so the room removes it.
            self._request("DELETE", url, mailbox=mailbox, describe=f"{calendar_id}: remove an event", gone_ok=True)
            return
        action = "accept" if accept else "decline"
        self._request(
            "POST",
            f"{url}/{action}",
            mailbox=mailbox,
            describe=f"{calendar_id}: {action} an event",
            json_body={"comment": comment[:1000], "sendResponse": True},
            gone_ok=True,
        )

    # -- push ---------------------------------------------------------------------------------------------------------

    def _watch(self, answer: dict) -> Watch:
        return Watch(id=answer["id"], resource_id="", expires_at=_parse_iso(answer.get("expirationDateTime")))

    def watch_start(
        self, calendar_id: str, *, address: str, token: str, expires_at: datetime, lifecycle_address: str = ""
    ) -> Watch:
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": address,
            "resource": f"/users/{calendar_id}/events",
            "expirationDateTime": _zulu(min(expires_at, timezone.now() + SUBSCRIPTION_MAX)),
            "clientState": token,
            "latestSupportedTlsVersion": "v1_2",
        }
        if lifecycle_address:
            body["lifecycleNotificationUrl"] = lifecycle_address
        answer = self._request(
            "POST", f"{self.graph}/subscriptions", mailbox="", describe=f"{calendar_id}: subscribe", json_body=body
        )
        return self._watch(answer)

    def watch_stop(self, watch: Watch) -> None:
        self._request(
            "DELETE",
            f"{self.graph}/subscriptions/{quote(watch.id, safe='')}",
            mailbox="",
            describe=f"unsubscribe {watch.id}",
            gone_ok=True,
        )

    def watch_renew(
        self, calendar_id: str, watch: Watch, *, address: str, token: str, expires_at: datetime, lifecycle_address=""
    ) -> Watch:
        """PATCH the subscription's expiration (and read it back); one that is gone is made anew."""
        try:
            answer = self._request(
                "PATCH",
                f"{self.graph}/subscriptions/{quote(watch.id, safe='')}",
                mailbox="",
                describe=f"{calendar_id}: renew the subscription",
                json_body={"expirationDateTime": _zulu(min(expires_at, timezone.now() + SUBSCRIPTION_MAX))},
            )
        except EventGone:
            return self.watch_start(
                calendar_id, address=address, token=token, expires_at=expires_at, lifecycle_address=lifecycle_address
            )
        return self._watch(answer)

    @classmethod
    def notifications_parse(cls, *, headers, body: bytes) -> list[Notification]:
        """Graph's ``{"value": [...]}``: change notifications, or lifecycle notifications (``lifecycleEvent``)."""
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("The body is not JSON.") from None
        items = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError('A Graph notification is {"value": [...]}.')
        found = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
                raise ValueError("A Graph notification names its subscriptionId.")
            found.append(
                Notification(
                    watch_id=item["subscriptionId"],
                    token=str(item.get("clientState") or ""),
                    kind=str(item.get("lifecycleEvent") or "change"),
                    resource=str(item.get("resource") or ""),
                )
            )
        return found


def _discovery_error(exc: ValueError) -> str:
    """The identity platform's own words behind msal's generic discovery error (its ``error_description``)."""
    for error in (exc.__context__, exc):
        text = str(error or "")
        match = re.search(r'"error_description":\s*"((?:[^"\\]|\\.)*)"', text)
        if match:
            return json.loads(f'"{match.group(1)}"').split("\r\n")[0]
    return str(exc)


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 1.0
