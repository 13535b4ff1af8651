"""Google Workspace: a service account with domain-wide delegation (``subject``), Calendar API v3 and the Directory's
room resources, through google-auth and google-api-python-client (httplib2).

* Endpoints: ``GOOGLE_API_ENDPOINT`` and ``GOOGLE_ADMIN_API_ENDPOINT`` (unset: Google's); the token endpoint is the
  ``token_uri`` of the service-account JSON, as google-auth reads it.
* The access token is shared by every worker (:func:`~calendars.providers.base.shared_token_get`), so a sync costs
  no token request while the token lives: an unchanged calendar costs exactly one request (``events.list``).
* Reading: ``events.list`` with ``singleEvents=true`` (instances expanded), the window as ``timeMin``/``timeMax`` on a
  full sync and the ``syncToken`` alone on an incremental one (Google refuses both together); every page is read
  before anything is returned. A 410 is :class:`SyncTokenInvalid`.
* Writing: our events are written into the room's calendar with a client-chosen id ``labs<booking uid hex>`` (only
  base32hex characters), so a retried insert answers 409 and never makes a second event, and with the booking's
  uid in ``extendedProperties.private.labsBookingId``. The room declines someone else's event by patching its own
  attendee entry (``responseStatus: declined`` and the reason as ``comment``); an event written straight into the
  room's calendar (the room is its organiser) is deleted instead.
* Push: ``events.watch`` channels; Google has no renewal, so :meth:`watch_renew` (the base class's) opens a new
  overlapping channel, then stops the old one with ``channels.stop``.
* Rate limits: 429 and 403 ``rateLimitExceeded``/``userRateLimitExceeded`` become :class:`RateLimited` with the
  Retry-After; google-api-python-client's own retries are off (``num_retries=0``) so the waits are ours.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
import uuid
import zoneinfo
from datetime import UTC, date, datetime

import httplib2
from django.conf import settings

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

SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly",
)
BOOKING_PROPERTY = "labsBookingId"
EVENT_ID_PREFIX = "labs"
_OUR_EVENT_ID = re.compile(r"^labs([0-9a-f]{32})$")
_RESPONSES = {
    "accepted": RoomResponse.ACCEPTED,
    "tentative": RoomResponse.TENTATIVE,
    "needsAction": RoomResponse.NEEDS_ACTION,
    "declined": RoomResponse.DECLINED,
}
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_SA_FIELDS = ("type", "project_id", "private_key_id", "private_key", "client_email", "client_id", "token_uri")


@functools.lru_cache(maxsize=64)
def _signer(private_key: str, key_id: str | None):
    """The service account's RSA signer, parsed once per process (parsing a PEM key costs milliseconds)."""
    from google.auth import crypt

    return crypt.RSASigner.from_string(private_key, key_id)


def event_id_for(key: str) -> str:
    """Our client-chosen Google event id for a booking uid (hex): base32hex characters only."""
    return f"{EVENT_ID_PREFIX}{key}"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _when(value: dict, fallback_tz: str) -> tuple[datetime, bool]:
    """An event's start/end object as an aware UTC instant, and whether it is a whole day."""
    if value.get("dateTime"):
        moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(value.get("timeZone") or fallback_tz))
        return moment.astimezone(UTC), False
    day = date.fromisoformat(value["date"])
    zone = zoneinfo.ZoneInfo(value.get("timeZone") or fallback_tz)
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC), True


class GoogleProvider(CalendarProvider):
    name = "google"

    # --- credentials -----------------------------------------------------------------------------------------------
    @classmethod
    def credentials_clean(cls, credentials: dict) -> dict:
        if not isinstance(credentials, dict):
            raise Invalid("Give the credentials as an object.", extra={"credentials": ["Must be an object."]})
        account = credentials.get("service_account")
        subject = credentials.get("subject")
        if isinstance(account, str):
            try:
                account = json.loads(account)
            except ValueError:
                account = None
        problems = []
        if not isinstance(account, dict) or account.get("type") != "service_account":
            problems.append("service_account must be the service account's JSON key (type service_account).")
        else:
            problems += [
                f"service_account has no {name}."
                for name in ("client_email", "private_key", "token_uri")
                if not isinstance(account.get(name), str) or not account.get(name)
            ]
        if not isinstance(subject, str) or "@" not in subject:
            problems.append("subject must be the e-mail of the Workspace user to act as (domain-wide delegation).")
        if problems:
            raise Invalid(" ".join(problems), extra={"credentials": problems})
        return {
            "service_account": {k: account[k] for k in _SA_FIELDS if k in account},
            "subject": subject.strip().lower(),
        }

    def _token_key(self) -> str:
        account = self.credentials["service_account"]
        raw = "|".join([account["client_email"], account["token_uri"], self.credentials["subject"], *SCOPES])
        return "google:" + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _google_credentials(self):
        if getattr(self, "_creds", None) is None:
            from google.oauth2 import service_account

            account = self.credentials["service_account"]
            try:
                signer = _signer(account["private_key"], account.get("private_key_id"))
            except (ValueError, TypeError) as exc:
                raise CredentialsRejected(f"Google service account key is not usable: {exc}", status=400) from None
            self._creds = service_account.Credentials(
                signer,
                account["client_email"],
                account["token_uri"],
                scopes=list(SCOPES),
                subject=self.credentials["subject"],
                project_id=account.get("project_id"),
            )
            cached = shared_token_get(self._token_key())
            if cached:
                self._creds.token = cached["token"]
                self._creds.expiry = datetime.fromisoformat(cached["expiry"])  # google-auth: naive UTC
        return self._creds

    def _remember_token(self) -> None:
        creds = self._creds
        if creds.token and creds.expiry:
            seconds = (creds.expiry - datetime.now(UTC).replace(tzinfo=None)).total_seconds() - 60
            if seconds > 0:
                shared_token_set(
                    self._token_key(), {"token": creds.token, "expiry": creds.expiry.isoformat()}, ttl_seconds=seconds
                )

    def _http(self) -> httplib2.Http:
        return httplib2.Http(timeout=settings.CALENDAR_HTTP_TIMEOUT)

    def _ensure_token(self) -> None:
        from google.auth import exceptions as auth_exceptions
        from google_auth_httplib2 import Request

        creds = self._google_credentials()
        if creds.valid:
            return
        try:
            creds.refresh(Request(self._http()))
        except auth_exceptions.RefreshError as exc:
            raise CredentialsRejected(f"Google refused the credentials: {exc.args[0] if exc.args else exc}") from None
        except (auth_exceptions.TransportError, OSError) as exc:
            raise ProviderError(f"Google's token endpoint could not be reached: {exc}") from None
        self._remember_token()

    def credentials_verify(self) -> None:
        self._ensure_token()

    def _service(self, api: str):
        if not hasattr(self, "_services"):
            self._services = {}
        if api not in self._services:
            from google_auth_httplib2 import AuthorizedHttp
            from googleapiclient.discovery import build

            self._ensure_token()
            http = AuthorizedHttp(self._google_credentials(), http=self._http())
            if api == "calendar":
                endpoint = settings.GOOGLE_API_ENDPOINT
                self._services[api] = build(
                    "calendar",
                    "v3",
                    http=http,
                    static_discovery=True,
                    cache_discovery=False,
                    client_options={"api_endpoint": endpoint} if endpoint else None,
                )
            else:
                endpoint = settings.GOOGLE_ADMIN_API_ENDPOINT
                self._services[api] = build(
                    "admin",
                    "directory_v1",
                    http=http,
                    static_discovery=True,
                    cache_discovery=False,
                    client_options={"api_endpoint": endpoint} if endpoint else None,
                )
        return self._services[api]

    # --- requests ----------------------------------------------------------------------------------------------
    def _execute(self, describe: str, build_request):
        """One API request through :meth:`call` (counted, rate limits retried), errors translated."""
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError

        def run():
            try:
                return build_request().execute(num_retries=0)
            except HttpError as exc:
                raise self._translate(exc, describe) from None
            except auth_exceptions.RefreshError as exc:
                detail = exc.args[0] if exc.args else exc
                raise CredentialsRejected(f"Google refused the credentials: {detail}") from None
            except (TimeoutError, httplib2.HttpLib2Error, OSError) as exc:
                raise ProviderError(f"Google could not be reached ({describe}): {exc}") from None

        token_before = self._google_credentials().token
        try:
            return self.call(describe, run)
        finally:
            if self._creds.token != token_before:
                self._remember_token()

    @staticmethod
    def _translate(exc, describe: str) -> ProviderError:
        status = int(exc.resp.status)
        reason, message = "", str(exc)
        try:
            error = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)["error"]
            message = error.get("message", message)
            reason = (error.get("errors") or [{}])[0].get("reason", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        text = f"Google answered {status}{' ' + reason if reason else ''} to {describe}: {message}"
        if status == 429 or (status == 403 and reason in _RATE_REASONS):
            try:
                retry_after = float(exc.resp.get("retry-after") or 1)
            except ValueError:
                retry_after = 1.0
            return RateLimited(text, retry_after=retry_after, status=status)
        if status == 410 and describe.startswith("events.list"):
            return SyncTokenInvalid(text)
        if status in {404, 410}:
            return EventGone(text)
        if status == 401:
            return CredentialsRejected(text)
        if status == 409 and reason == "duplicate":
            return ProviderError(text, status=409, retryable=False)
        return ProviderError(text, status=status, retryable=status >= 500)

    # --- rooms ------------------------------------------------------------------------------------------------------
    def resources_list(self) -> list[RoomResource]:
        directory = self._service("admin")
        rooms, page_token = [], None
        while True:
            page = self._execute(
                "resources.calendars.list",
                lambda token=page_token: (
                    directory.resources().calendars().list(customer="my_customer", maxResults=500, pageToken=token)
                ),
            )
            for item in page.get("items", []):
                rooms.append(
                    RoomResource(
                        calendar_id=item.get("resourceEmail", "").lower(),
                        name=item.get("resourceName", ""),
                        capacity=item.get("capacity"),
                        building=item.get("buildingId", ""),
                        floor=item.get("floorName", ""),
                    )
                )
            page_token = page.get("nextPageToken")
            if not page_token:
                return rooms

    # --- reading ------------------------------------------------------------------------------------------------------
    def query_fingerprint(self, calendar_id: str, window: SyncWindow) -> str:
        # Google's token does not fix the window (the engine filters by it): the query is the calendar and the
        # expansion of recurring events.
        return f"google:{calendar_id}:singleEvents:v1"

    def changes_list(self, calendar_id: str, *, token: str | None, window: SyncWindow) -> ChangeSet:
        service = self._service("calendar")
        events, page_token = [], None
        while True:
            query = {"calendarId": calendar_id, "singleEvents": True, "maxResults": settings.CALENDAR_PAGE_SIZE}
            if token:
                query["syncToken"] = token
            else:
                query["timeMin"] = window.start.astimezone(UTC).isoformat()
                query["timeMax"] = window.end.astimezone(UTC).isoformat()
            if page_token:
                query["pageToken"] = page_token
            page = self._execute("events.list", lambda query=query: service.events().list(**query))
            fallback_tz = page.get("timeZone") or "UTC"
            events.extend(self._parse(item, calendar_id, fallback_tz) for item in page.get("items", []))
            page_token = page.get("nextPageToken")
            if not page_token:
                return ChangeSet(events=events, next_token=page.get("nextSyncToken", ""), full=token is None)

    def _parse(self, item: dict, calendar_id: str, fallback_tz: str) -> RemoteEvent:
        original = item.get("originalStartTime")
        original_start = _when(original, fallback_tz)[0] if original else None
        common = {
            "id": item["id"],
            "etag": item.get("etag", ""),
            "recurring_event_id": item.get("recurringEventId", ""),
            "original_start": original_start,
            "ical_uid": item.get("iCalUID", ""),
            "updated": _parse_time(item.get("updated")),
        }
        if item.get("status") == "cancelled":
            return RemoteEvent(status="cancelled", **common)
        start, all_day = _when(item["start"], fallback_tz)
        end, _all_day = _when(item["end"], fallback_tz)
        organiser = (item.get("organizer") or {}).get("email", "").lower()
        attendees = item.get("attendees") or []
        room = calendar_id.lower()
        if organiser == room:
            response = RoomResponse.OWNER
            organiser = (item.get("creator") or {}).get("email", "").lower()
        else:
            entry = next((a for a in attendees if a.get("email", "").lower() == room or a.get("self")), None)
            response = _RESPONSES.get(entry.get("responseStatus"), RoomResponse.NEEDS_ACTION) if entry else "owner"
        people = [a for a in attendees if not a.get("resource") and a.get("email", "").lower() not in {organiser, room}]
        private = ((item.get("extendedProperties") or {}).get("private") or {}).get(BOOKING_PROPERTY, "")
        ours = _OUR_EVENT_ID.match(item.get("recurringEventId") or item["id"])
        return RemoteEvent(
            status="confirmed",
            start=start,
            end=end,
            all_day=all_day,
            title=item.get("summary", ""),
            organiser_email=organiser,
            room_response=response,
            attendee_count=len(people),
            booking_key=private or (ours.group(1) if ours else ""),
            created=_parse_time(item.get("created")),
            **common,
        )

    def series_get(self, calendar_id: str, series_id: str) -> SeriesInfo | None:
        service = self._service("calendar")
        try:
            item = self._execute("events.get", lambda: service.events().get(calendarId=calendar_id, eventId=series_id))
        except EventGone:
            return None
        if item.get("status") == "cancelled" or not item.get("recurrence"):
            return None
        tz = item["start"].get("timeZone") or "UTC"
        rules = [line.split(":", 1)[1] for line in item["recurrence"] if line.upper().startswith("RRULE:")]
        if len(rules) != 1:
            return None
        exdates = []
        for line in item["recurrence"]:
            if line.upper().startswith("EXDATE"):
                for value in line.split(":", 1)[1].split(","):
                    value = value.strip()
                    if value.endswith("Z"):
                        exdates.append(datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
                    elif "T" in value:
                        local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zoneinfo.ZoneInfo(tz))
                        exdates.append(local.astimezone(UTC))
        start, _all_day = _when(item["start"], tz)
        end, _all_day = _when(item["end"], tz)
        return SeriesInfo(id=series_id, rrule=rules[0], start=start, end=end, timezone=tz, exdates=tuple(exdates))

    # --- writing ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _body(event: OutboundEvent) -> dict:
        tz = event.timezone
        who = f"Booked by {event.organiser_email}" if event.organiser_email else "Booked"
        people = f" for {event.attendee_count + 1} people" if event.attendee_count else ""
        return {
            "summary": event.title or "Booked",
            "start": {"dateTime": event.start.astimezone(zoneinfo.ZoneInfo(tz)).isoformat(), "timeZone": tz},
            "end": {"dateTime": event.end.astimezone(zoneinfo.ZoneInfo(tz)).isoformat(), "timeZone": tz},
            "location": event.location,
            "description": f"{who}{people} in Labs.",
            "transparency": "opaque",
            "status": "confirmed",
            "extendedProperties": {"private": {BOOKING_PROPERTY: event.key}},
        }

    # What differs for a person's own calendar (calendars.providers.personal): the attendees are told, our events'
    # ids have their own prefix, and the body carries attendees and recurrence.
    send_updates = "none"  # a room's calendar: the room is the only attendee, nobody is emailed
    event_id_prefix = EVENT_ID_PREFIX

    def _event_body(self, event: OutboundEvent) -> dict:
        return self._body(event)

    def event_create(self, calendar_id: str, event: OutboundEvent) -> RemoteEvent:
        service = self._service("calendar")
        body = {"id": f"{self.event_id_prefix}{event.key}", **self._event_body(event)}
        try:
            item = self._execute(
                "events.insert",
                lambda: service.events().insert(calendarId=calendar_id, body=body, sendUpdates=self.send_updates),
            )
        except ProviderError as exc:
            if exc.status != 409:
                raise
            # Already there: a retried insert, or the event of a booking written before. Make it what we want.
            return self.event_update(calendar_id, body["id"], event)
        return self._parse(item, calendar_id, event.timezone)

    def event_update(self, calendar_id: str, ref: str, event: OutboundEvent) -> RemoteEvent:
        service = self._service("calendar")
        body = self._event_body(event)
        item = self._execute(
            "events.patch",
            lambda: service.events().patch(
                calendarId=calendar_id, eventId=ref, body=body, sendUpdates=self.send_updates
            ),
        )
        return self._parse(item, calendar_id, event.timezone)

    def event_delete(self, calendar_id: str, ref: str) -> None:
        service = self._service("calendar")
        with contextlib.suppress(EventGone):
            self._execute(
                "events.delete",
                lambda: service.events().delete(calendarId=calendar_id, eventId=ref, sendUpdates=self.send_updates),
            )

    def event_respond(self, calendar_id: str, event: RemoteEvent, *, accept: bool, comment: str = "") -> None:
        if event.room_response == RoomResponse.OWNER:
            if not accept:
                self.event_delete(calendar_id, event.ref)
            return
        service = self._service("calendar")
        entry = {"email": calendar_id, "responseStatus": "accepted" if accept else "declined", "comment": comment}
        with contextlib.suppress(EventGone):
            self._execute(
                "events.patch (room response)",
                lambda: service.events().patch(
                    calendarId=calendar_id, eventId=event.ref, body={"attendees": [entry]}, sendUpdates="none"
                ),
            )

    # --- push -------------------------------------------------------------------------------------------------------
    def watch_start(
        self, calendar_id: str, *, address: str, token: str, expires_at: datetime, lifecycle_address: str = ""
    ) -> Watch:
        service = self._service("calendar")
        body = {
            "id": str(uuid.uuid4()),
            "type": "web_hook",
            "address": address,
            "token": token,
            "expiration": int(expires_at.timestamp() * 1000),
        }
        channel = self._execute("events.watch", lambda: service.events().watch(calendarId=calendar_id, body=body))
        expiration = channel.get("expiration")
        expires = datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration else expires_at
        return Watch(id=channel["id"], resource_id=channel.get("resourceId", ""), expires_at=expires)

    def watch_stop(self, watch: Watch) -> None:
        service = self._service("calendar")
        with contextlib.suppress(EventGone):
            self._execute(
                "channels.stop",
                lambda: service.channels().stop(body={"id": watch.id, "resourceId": watch.resource_id}),
            )

    @classmethod
    def notifications_parse(cls, *, headers, body: bytes) -> list[Notification]:
        channel = headers.get("X-Goog-Channel-ID") or ""
        if not channel:
            raise ValueError("Not a Google push notification: no X-Goog-Channel-ID.")
        state = headers.get("X-Goog-Resource-State") or ""
        return [
            Notification(
                watch_id=channel,
                token=headers.get("X-Goog-Channel-Token") or "",
                kind="sync" if state == "sync" else "change",
                resource=headers.get("X-Goog-Resource-ID") or "",
            )
        ]
