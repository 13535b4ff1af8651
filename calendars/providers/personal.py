"""Personal calendars: a person's own Google or Microsoft 365 calendar, reached with their consent through the
operator's OAuth client (delegated access), by the same adapters as the room calendars.

* **Consent**: authorization code with PKCE (S256) and ``state``. Google: the operator's client from
  ``GOOGLE_OAUTH_*``, scopes ``openid email calendar.events`` (read and write events, nothing else), ``access_type
  offline``. Microsoft: msal's auth-code flow (it makes the PKCE pair, the ``state`` and the ``nonce``) with the
  operator's multi-tenant app ``MS_OAUTH_*`` under ``MS_AUTHORITY_HOST/organizations``, scope ``Calendars.ReadWrite``
  (msal adds ``openid profile offline_access``).
* **Tokens**: only the refresh token is kept (encrypted, :class:`calendars.models.PersonalCalendar`); an access token
  is obtained per sync. A refresh the provider refuses (``invalid_grant``: consent revoked, password changed, token
  expired) is :class:`GrantRejected`, which turns the connection to ``needs_reconnect``.
* **Adapters**: :class:`GooglePersonalProvider` and :class:`MicrosoftPersonalProvider` subclass the room adapters and
  change only what differs: the credentials, the people invited (so the provider sends the meeting notices), the
  location, and reading who an event invites (the rooms' booking addresses).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import msal
import requests
from django.conf import settings

from calendars.providers import google as google_adapter
from calendars.providers import microsoft as ms_adapter
from calendars.providers.base import CredentialsRejected, OutboundEvent, ProviderError, RemoteEvent

GOOGLE_SCOPES = ("openid", "email", "https://www.googleapis.com/auth/calendar.events")
MS_SCOPES = ["Calendars.ReadWrite"]  # msal adds openid, profile and offline_access itself
PERSONAL_EVENT_PREFIX = "labsp"  # base32hex: our events in a person's calendar, distinct from the rooms' ids


class GrantRejected(CredentialsRejected):
    """The person's grant is gone (``invalid_grant``: revoked, expired, password changed): they must reconnect."""


@dataclass(frozen=True)
class Grant:
    account: str
    refresh_token: str
    scopes: str


def configured(provider: str) -> bool:
    if provider == "google":
        return bool(settings.GOOGLE_OAUTH_CLIENT_ID and settings.GOOGLE_OAUTH_CLIENT_SECRET)
    if provider == "microsoft":
        return bool(settings.MS_OAUTH_CLIENT_ID and settings.MS_OAUTH_CLIENT_SECRET)
    return False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(id_token: str) -> dict:
    """An ID token's claims. Received straight from the token endpoint over TLS, its issuer is the one we asked
    (OpenID Connect Core 3.1.3.7, step 6), so the signature is not checked here."""
    try:
        return json.loads(base64.urlsafe_b64decode(id_token.split(".")[1] + "==="))
    except (IndexError, ValueError):
        return {}


# --- Microsoft: one msal app per process for the operator's multi-tenant client -----------------------------------

_ms_apps: dict[str, msal.ConfidentialClientApplication] = {}
_ms_lock = threading.Lock()


def _ms_app() -> msal.ConfidentialClientApplication:
    key = "|".join([settings.MS_AUTHORITY_HOST, settings.MS_OAUTH_CLIENT_ID, str(settings.MS_CA_BUNDLE)])
    with _ms_lock:
        if key not in _ms_apps:
            try:
                _ms_apps[key] = msal.ConfidentialClientApplication(
                    settings.MS_OAUTH_CLIENT_ID,
                    client_credential=settings.MS_OAUTH_CLIENT_SECRET,
                    authority=f"{settings.MS_AUTHORITY_HOST.rstrip('/')}/organizations",
                    instance_discovery=False,
                    http_client=ms_adapter._Session(ms_adapter._verify()),
                )
            except (ValueError, requests.RequestException, OSError) as exc:
                raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
        return _ms_apps[key]


def _ms_refused(result: dict, doing: str) -> ProviderError:
    error = result.get("error", "error")
    description = (result.get("error_description") or "").split("\r\n")[0]
    message = f"Microsoft refused {doing}: {error}: {description}"[:480]
    if error in {"invalid_grant", "interaction_required", "consent_required"}:
        return GrantRejected(message, status=400)
    if error in {"invalid_client", "unauthorized_client"}:
        return CredentialsRejected(message, status=401)
    return ProviderError(message)


# --- Consent ---------------------------------------------------------------------------------------------------


def authorization_start(provider: str, *, redirect_uri: str, login_hint: str = "") -> tuple[str, dict]:
    """The provider's consent page to send the person to, and the flow to keep in their session until the callback
    (the ``state`` and the PKCE verifier: never in the URL)."""
    if provider == "google":
        verifier = _b64url(secrets.token_bytes(48))
        flow = {
            "provider": "google",
            "state": secrets.token_urlsafe(24),
            "verifier": verifier,
            "redirect": redirect_uri,
        }
        query = {
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(GOOGLE_SCOPES),
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "false",
            "state": flow["state"],
            "code_challenge": _b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        if login_hint:
            query["login_hint"] = login_hint
        return f"{settings.GOOGLE_OAUTH_AUTHORIZE_URL}?{urlencode(query)}", flow
    if provider == "microsoft":
        try:
            flow = _ms_app().initiate_auth_code_flow(
                MS_SCOPES,
                redirect_uri=redirect_uri,
                login_hint=login_hint or None,
                prompt="select_account",
                # The answer comes back as a form POST, so the code never stands in a URL (history, logs,
                # Referer); msal recommends it and will require it (portal.views_my_calendar keeps the answer).
                response_mode="form_post",
            )
        except (ValueError, requests.RequestException, OSError) as exc:
            raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
        return flow["auth_uri"], {"provider": "microsoft", "msal": flow}
    raise ProviderError(f"Unknown provider {provider!r}.", retryable=False)


def authorization_finish(provider: str, *, flow: dict, params: dict) -> Grant:
    """The callback: check ``state``, exchange the code (with the PKCE verifier) for tokens, and name the account."""
    if not flow or flow.get("provider") != provider:
        raise ProviderError("This answer does not belong to a consent this browser started.", retryable=False)
    if params.get("error"):
        raise ProviderError(f"The provider answered {params['error']}: {params.get('error_description', '')}"[:480])
    if provider == "google":
        if not secrets.compare_digest(str(params.get("state", "")), flow["state"]):
            raise ProviderError("The consent's state does not match: start again.", retryable=False)
        try:
            response = requests.post(
                settings.GOOGLE_OAUTH_TOKEN_URL,
                data={
                    "grant_type": "authorization_code",
                    "code": params.get("code", ""),
                    "redirect_uri": flow["redirect"],
                    "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
                    "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
                    "code_verifier": flow["verifier"],
                },
                timeout=settings.CALENDAR_HTTP_TIMEOUT,
            )
            answer = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderError(f"Google's token endpoint could not be reached: {exc}") from None
        if response.status_code != 200 or "refresh_token" not in answer:
            error = answer.get("error", response.status_code)
            raise ProviderError(f"Google refused the code: {error}: {answer.get('error_description', '')}"[:480])
        claims = _claims(answer.get("id_token", ""))
        return Grant(
            account=(claims.get("email") or "").lower(),
            refresh_token=answer["refresh_token"],
            scopes=answer.get("scope", " ".join(GOOGLE_SCOPES)),
        )
    try:
        result = _ms_app().acquire_token_by_auth_code_flow(flow["msal"], params, scopes=MS_SCOPES)
    except ValueError as exc:  # msal: the state does not match the flow
        raise ProviderError(f"The consent's answer does not match: {exc}", retryable=False) from None
    except (requests.RequestException, OSError) as exc:
        raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
    if "access_token" not in result or not result.get("refresh_token"):
        raise _ms_refused(result, "the code")
    claims = result.get("id_token_claims") or {}
    return Grant(
        account=(claims.get("preferred_username") or claims.get("email") or "").lower(),
        refresh_token=result["refresh_token"],
        scopes=result.get("scope", " ".join(MS_SCOPES)),
    )


def grant_revoke(provider: str, refresh_token: str) -> bool:
    """Revoke the grant at the provider where it can be: Google's revocation endpoint. Microsoft has no endpoint
    revoking one app's refresh token (``revokeSignInSessions`` would sign the person out everywhere): the token is
    only deleted here, and the person removes the app's consent in their account. True when revoked there."""
    if provider != "google":
        return False
    try:
        response = requests.post(
            settings.GOOGLE_OAUTH_REVOKE_URL, data={"token": refresh_token}, timeout=settings.CALENDAR_HTTP_TIMEOUT
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


# --- The adapters ----------------------------------------------------------------------------------------------


class GooglePersonalProvider(google_adapter.GoogleProvider):
    def supports_recurrence(self, event: OutboundEvent) -> bool:
        return True

    """A person's primary Google calendar with their OAuth grant: ``credentials`` = ``{"refresh_token", "account"}``;
    ``credentials["refresh_token"]`` is updated if Google rotates it (the caller stores it)."""

    name = "google"

    def _google_credentials(self):
        if getattr(self, "_creds", None) is None:
            from google.oauth2.credentials import Credentials

            self._creds = Credentials(
                token=None,
                refresh_token=self.credentials["refresh_token"],
                token_uri=settings.GOOGLE_OAUTH_TOKEN_URL,
                client_id=settings.GOOGLE_OAUTH_CLIENT_ID,
                client_secret=settings.GOOGLE_OAUTH_CLIENT_SECRET,
                scopes=list(GOOGLE_SCOPES),
            )
        return self._creds

    def _remember_token(self) -> None:
        if self._creds.refresh_token and self._creds.refresh_token != self.credentials["refresh_token"]:
            self.credentials["refresh_token"] = self._creds.refresh_token

    def _ensure_token(self) -> None:
        try:
            super()._ensure_token()
        except CredentialsRejected as exc:
            if "invalid_grant" in str(exc):
                raise GrantRejected(str(exc)) from None
            raise

    send_updates = "all"  # the attendees get the meeting notices
    event_id_prefix = PERSONAL_EVENT_PREFIX

    def _event_body(self, event: OutboundEvent) -> dict:
        body = self._body(event)
        body["attendees"] = [{"email": address} for address in event.attendees]
        body["description"] = f"Booked in Labs: {event.location}."
        if event.recurrence:
            body["recurrence"] = list(event.recurrence)
        return body

    def _parse(self, item: dict, calendar_id: str, fallback_tz: str) -> RemoteEvent:
        event = super()._parse(item, calendar_id, fallback_tz)
        if event.is_cancelled:
            return event
        invitees = tuple((a.get("email") or "").lower() for a in item.get("attendees") or [] if a.get("email"))
        return dataclasses.replace(event, invitees=invitees, location=item.get("location") or "")

    def invitation_decline(self, calendar_id: str, event: RemoteEvent, *, address: str, comment: str) -> RemoteEvent:
        """The room (its booking address) declines the person's event, with the reason as its comment."""
        service = self._service("calendar")
        item = self._execute("events.get", lambda: service.events().get(calendarId=calendar_id, eventId=event.id))
        attendees = []
        for attendee in item.get("attendees") or []:
            if (attendee.get("email") or "").lower() == address:
                attendee = {**attendee, "responseStatus": "declined", "comment": comment[:300]}
            attendees.append(attendee)
        item = self._execute(
            "events.patch (room declines)",
            lambda: service.events().patch(
                calendarId=calendar_id, eventId=event.id, body={"attendees": attendees}, sendUpdates="none"
            ),
        )
        return self._parse(item, calendar_id, "UTC")


class MicrosoftPersonalProvider(ms_adapter.MicrosoftProvider):
    """A person's Outlook calendar with their delegated grant (``credentials``: ``{"refresh_token", "account"}``),
    written as its organiser so Exchange sends the meeting notices."""

    needs_lifecycle_url = True

    def __init__(self, *, credentials: dict, connection_id: int | None = None, sleep=None):
        super().__init__(credentials=credentials, connection_id=connection_id, sleep=sleep)
        self.service_mailbox = ""

    def _access_token(self) -> str:
        if self._token:
            return self._token
        try:
            result = _ms_app().acquire_token_by_refresh_token(self.credentials["refresh_token"], scopes=MS_SCOPES)
        except (requests.RequestException, OSError) as exc:
            raise ProviderError(f"Microsoft's sign-in service could not be reached: {exc}") from None
        if "access_token" not in result:
            raise _ms_refused(result, "the grant")
        if result.get("refresh_token"):
            self.credentials["refresh_token"] = result["refresh_token"]
        self._token = result["access_token"]
        return self._token

    def _token_forget(self) -> None:
        self._token = None

    def _body_personal(self, calendar_id: str, event: OutboundEvent) -> dict:
        body = super()._body(calendar_id, event)
        body["body"] = {"contentType": "text", "content": f"Booked in Labs: {event.location}."}
        body["location"] = {"displayName": event.location}
        body["attendees"] = [{"emailAddress": {"address": a}, "type": "required"} for a in event.attendees]
        body["isReminderOn"] = True
        return body

    def supports_recurrence(self, event: OutboundEvent) -> bool:
        return graph_recurrence(event) is not None

    def _body(self, calendar_id: str, event: OutboundEvent) -> dict:
        body = self._body_personal(calendar_id, event)
        if event.recurrence:
            body["recurrence"] = graph_recurrence(event)
        return body

    def _write_series(self, calendar_id: str, written: RemoteEvent, event: OutboundEvent) -> RemoteEvent:
        """Graph has no EXDATE: the occurrences not held are deleted one by one after the series is written."""
        exdates = [line for line in event.recurrence if line.startswith("EXDATE:")]
        if not exdates:
            return written
        missing = {
            datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            for value in exdates[0].removeprefix("EXDATE:").split(",")
        }
        lo, hi = min(missing), max(missing) + (event.end - event.start)
        url = (
            f"{self._user(calendar_id)}/events/{quote(written.id, safe='')}/instances"
            f"?startDateTime={ms_adapter._zulu(lo)}&endDateTime={ms_adapter._zulu(hi)}"
        )
        page = self._request("GET", url, mailbox=calendar_id, describe=f"{calendar_id}: the series' occurrences")
        for item in (page or {}).get("value", []):
            start = ms_adapter.parse_graph_datetime(item.get("start"))
            if start in missing:
                self._request(
                    "DELETE",
                    f"{self._user(calendar_id)}/events/{quote(item['id'], safe='')}",
                    mailbox=calendar_id,
                    describe=f"{calendar_id}: remove an occurrence",
                    gone_ok=True,
                )
        return written

    def event_create(self, calendar_id: str, event: OutboundEvent) -> RemoteEvent:
        return self._write_series(calendar_id, super().event_create(calendar_id, event), event)

    def event_update(self, calendar_id: str, ref: str, event: OutboundEvent) -> RemoteEvent:
        return self._write_series(calendar_id, super().event_update(calendar_id, ref, event), event)

    def _event(self, item: dict, calendar_id: str) -> RemoteEvent:
        event = super()._event(item, calendar_id)
        if event.is_cancelled:
            return event
        invitees = tuple(
            ((a.get("emailAddress") or {}).get("address") or "").lower()
            for a in item.get("attendees") or []
            if (a.get("emailAddress") or {}).get("address")
        )
        location = (item.get("location") or {}).get("displayName") or ""
        return dataclasses.replace(event, invitees=invitees, location=location)

    def invitation_decline(self, calendar_id: str, event: RemoteEvent, *, address: str, comment: str) -> RemoteEvent:
        """Graph lets no organiser answer for an attendee: the booking address leaves the meeting and the reason is
        put at the top of its description (and emailed)."""
        url = f"{self._user(calendar_id)}/events/{quote(event.id, safe='')}"
        item = self._request("GET", url, mailbox=calendar_id, describe=f"{calendar_id}: read an event")
        attendees = [
            a
            for a in (item or {}).get("attendees") or []
            if ((a.get("emailAddress") or {}).get("address") or "").lower() != address
        ]
        body = (item or {}).get("body") or {}
        kind = (body.get("contentType") or "text").lower()
        note = f"{address} declined: {comment}"
        if kind == "html":
            from html import escape

            content = f"<p>{escape(note)}</p>{body.get('content') or ''}"
        else:
            content = f"{note}\n\n{body.get('content') or ''}".rstrip()
        item = self._request(
            "PATCH",
            url,
            mailbox=calendar_id,
            describe=f"{calendar_id}: the room declines an event",
            json_body={"attendees": attendees, "body": {"contentType": kind, "content": content}},
        )
        return self._event(item or {"id": event.id}, calendar_id)


_GRAPH_DAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}


def graph_recurrence(event: OutboundEvent) -> dict | None:
    """Graph's ``patternedRecurrence`` for a series' ``RRULE`` (daily, weekly with days, monthly on a day of the
    month; UNTIL as the end date in the series' zone), or None for a rule Graph cannot say (written occurrence by
    occurrence instead)."""
    if not event.recurrence or not event.recurrence[0].startswith("RRULE:"):
        return None
    rule = dict(part.split("=", 1) for part in event.recurrence[0].removeprefix("RRULE:").split(";") if "=" in part)
    tz = ZoneInfo(event.timezone)
    local = event.start.astimezone(tz)
    interval = int(rule.get("INTERVAL", "1"))
    freq, byday = rule.get("FREQ"), rule.get("BYDAY", "")
    if any(ch.isdigit() for ch in byday) or "BYSETPOS" in rule or "UNTIL" not in rule:
        return None
    if freq == "DAILY" and not byday:
        pattern = {"type": "daily", "interval": interval}
    elif freq == "WEEKLY" or (freq == "DAILY" and byday):
        days = [_GRAPH_DAYS[d] for d in byday.split(",")] if byday else [local.strftime("%A").lower()]
        pattern = {"type": "weekly", "interval": interval, "daysOfWeek": days, "firstDayOfWeek": "monday"}
    elif freq == "MONTHLY" and not byday:
        pattern = {
            "type": "absoluteMonthly",
            "interval": interval,
            "dayOfMonth": int(rule.get("BYMONTHDAY", local.day)),
        }
    else:
        return None
    until = datetime.strptime(rule["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(tz).date()
    return {
        "pattern": pattern,
        "range": {
            "type": "endDate",
            "startDate": local.date().isoformat(),
            "endDate": until.isoformat(),
            "recurrenceTimeZone": ms_adapter.windows_zone(event.timezone),
        },
    }


def personal_provider_for(calendar) -> GooglePersonalProvider | MicrosoftPersonalProvider:
    """The adapter for a :class:`calendars.models.PersonalCalendar`."""
    cls = GooglePersonalProvider if calendar.provider == "google" else MicrosoftPersonalProvider
    return cls(credentials={"refresh_token": calendar.refresh_token, "account": calendar.account})


def calendar_id_of(calendar) -> str:
    """The id the adapters address the person's calendar by: their address (Google's primary calendar's id, Graph's
    ``/users/{address}``)."""
    return calendar.account
