"""A stateful fake of Google's OAuth token endpoint, Calendar API v3 and Directory room resources.

Stateful enough that google-auth and google-api-python-client run against it unmodified (tests, ``make run``,
bench/calendar_sync.py):

* ``POST /token``: the service-account JWT-bearer grant (RS256, checked against the tenant's registered public keys;
  ``sub`` must be a user of the tenant, the scopes delegated). A revoked key answers ``invalid_grant``.
* ``/calendar/v3/``: events ``list`` (``syncToken`` with ``nextSyncToken`` on the last page only, 410 for an expired
  or foreign token, 400 when combined with ``timeMin``/``timeMax``/``q``/``orderBy``/``updatedMin``;
  ``singleEvents`` expansion with ``recurringEventId`` and ``originalStartTime``; deleted events as ``cancelled`` in
  incremental results; ``pageToken``/``maxResults`` up to 2500), ``insert`` (client-chosen ids, 409 on a duplicate),
  ``get``, ``patch``, ``update``, ``delete``, ``instances``, ``watch``, and ``channels.stop``. An event inviting a
  room (a ``resource`` attendee) appears on the room's calendar with the same id, and the room accepts it, or
  declines it when something it accepted overlaps; an event written straight into a room's calendar bypasses that
  check (as at Google). Only the organiser's calendar may change an event; an attendee's calendar may change its own
  response (the room declining).
* ``/admin/directory/v1/customer/{customer}/resources/calendars``: the tenant's rooms.
* Watch channels POST notifications (``sync`` at creation, then ``exists``) to their address; in tests they queue in
  :attr:`FakeGoogle.outbox` for the test to deliver (drop, duplicate, shuffle) through Django's test client.
* :meth:`FakeGoogle.fail_next` answers the next API requests with 429 (``Retry-After``) or 403 ``rateLimitExceeded``.

Every API request is logged in :attr:`FakeGoogle.log` with the calendar it concerned, for counting.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import queue
import re
import secrets
import threading
import time
import urllib.request
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote

import jwt
from dateutil.rrule import rrulestr

from calendars.fakes.server import FakeRequest, FakeResponse
from labs.files import write_atomically

logger = logging.getLogger(__name__)

SCOPE_CALENDAR = "https://www.googleapis.com/auth/calendar"
SCOPE_CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
SCOPE_RESOURCES = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly"
DELEGATED_SCOPES = (SCOPE_CALENDAR, SCOPE_CALENDAR_EVENTS, SCOPE_RESOURCES)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_RESULTS = 2500
DEFAULT_RESULTS = 250
HORIZON = timedelta(days=730)  # how far recurring events are expanded
MAX_INSTANCES = 1000
_BASE32HEX = re.compile(r"^[a-v0-9]{5,1024}$")
_SYNC_FORBIDDEN = ("timeMin", "timeMax", "q", "orderBy", "updatedMin", "iCalUID", "privateExtendedProperty")


# --- The tenant ------------------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """The Workspace domain: users (``admin`` may write room calendars), rooms, service accounts (public keys)."""

    domain: str
    customer: str = "C0fake"
    timezone: str = "UTC"
    users: dict[str, dict] = field(default_factory=dict)
    resources: dict[str, dict] = field(default_factory=dict)
    service_accounts: dict[str, str] = field(default_factory=dict)  # client_email -> public key PEM
    oauth_clients: dict[str, str] = field(default_factory=dict)  # an operator's web client: client_id -> secret

    def to_dict(self) -> dict:
        return {
            "domain": self.domain,
            "customer": self.customer,
            "timezone": self.timezone,
            "users": self.users,
            "resources": self.resources,
            "service_accounts": self.service_accounts,
            "oauth_clients": self.oauth_clients,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Tenant:
        return cls(**data)

    def add_user(self, email: str, *, name: str = "", admin: bool = False) -> None:
        self.users[email.lower()] = {"name": name or email.split("@")[0], "admin": admin}

    def add_room(
        self, email: str, *, name: str, capacity: int = 6, building: str = "", floor: str = "", auto_accept=True
    ) -> None:
        self.resources[email.lower()] = {
            "name": name,
            "capacity": capacity,
            "building": building,
            "floor": floor,
            "auto_accept": auto_accept,
        }


def make_service_account(client_email: str, *, token_uri: str, project: str = "labs-fake") -> tuple[dict, str]:
    """A new service account: its JSON key file (as Google issues it) and its public key PEM for the tenant."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": token_uri.rsplit("/", 1)[0] + "/auth",
        "token_uri": token_uri,
    }
    return info, public_pem


# --- Helpers ---------------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _local_iso(moment: datetime, tz: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).isoformat(timespec="seconds")


def _error(status: int, message: str, reason: str, *, domain: str = "global", headers=None) -> FakeResponse:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "status": statuses.get(status, "FAILED_PRECONDITION" if status in {409, 410, 412} else "UNKNOWN"),
        }
    }
    return FakeResponse.json(body, status=status, headers=headers)


class _Problem(Exception):
    def __init__(self, response: FakeResponse):
        self.response = response


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(text: str) -> dict:
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


def _parse_when(value: dict | None, default_tz: str) -> tuple[datetime, str, bool]:
    """(UTC instant, zone, all-day) of an event's start or end object."""
    if not isinstance(value, dict):
        raise _Problem(_error(400, "Missing start or end time.", "required"))
    tz = value.get("timeZone") or default_tz
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Problem(_error(400, f"Invalid time zone definition for start time: {tz}", "invalid")) from None
    if value.get("dateTime"):
        try:
            moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        except ValueError:
            raise _Problem(_error(400, "Invalid value for dateTime.", "invalid")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC), tz, False
    if value.get("date"):
        day = date.fromisoformat(value["date"])
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC), tz, True
    raise _Problem(_error(400, "Missing time.", "required"))


def _instance_id(master_id: str, original_start: datetime) -> str:
    return f"{master_id}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _split_instance_id(event_id: str) -> tuple[str, datetime] | None:
    if "_" not in event_id:
        return None
    master, stamp = event_id.rsplit("_", 1)
    try:
        return master, datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


@dataclass
class _Calendar:
    """One calendar's change log: the sequence number of the last change of each event (or instance) on it."""

    index: dict[str, int] = field(default_factory=dict)
    generation: int = 1


# --- The fake ------------------------------------------------------------------------------------------------------


class FakeGoogle:
    """Google's token endpoint, Calendar v3 and Directory resources for one tenant; thread-safe."""

    def __init__(self, tenant: Tenant, *, deliver_notifications: bool = False, channel_ttl=timedelta(days=7)):
        self.tenant = tenant
        self.lock = threading.RLock()
        self.seq = 0
        self.events: dict[str, dict] = {}
        self.calendars: dict[str, _Calendar] = {}
        self.tokens: dict[str, dict] = {}
        self.revoked: set[str] = set()
        self.channels: dict[str, dict] = {}
        self.channel_ttl = channel_ttl
        self.failures: list[dict | None] = []
        self.broken: dict[str, int] = {}
        self.token_requests = 0
        # People's OAuth grants (personal calendars): the operator's clients, codes, refresh tokens.
        self.oauth_clients: dict[str, str] = dict(tenant.oauth_clients)
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.consent_user = ""  # who the consent page signs in when nobody is named (tests, the demo)
        self.refreshes = 0
        self.log: list[dict] = []
        self.outbox: list[dict] = []
        self._ids = itertools.count(1)
        self._delivery: queue.Queue | None = None
        if deliver_notifications:
            self._delivery = queue.Queue()
            threading.Thread(target=self._deliver_forever, name="fake-google-push", daemon=True).start()

    # --- knobs for tests and the demo -----------------------------------------------------------------------------
    def fail_next(
        self, count: int = 1, *, status: int = 429, retry_after: float = 0, reason: str = "", after: int = 0
    ) -> None:
        """Answer ``count`` API requests, once ``after`` more have passed, with a rate-limit error (429 with
        Retry-After, or 403 ``rateLimitExceeded``) or another error status."""
        reason = reason or ("rateLimitExceeded" if status in {403, 429} else "backendError")
        with self.lock:
            self.failures.extend([None] * after)
            self.failures.extend({"status": status, "retry_after": retry_after, "reason": reason} for _ in range(count))

    def fail_calendar(self, calendar_id: str, *, status: int = 503) -> None:
        """Every request about this calendar fails (until :meth:`heal_calendar`)."""
        with self.lock:
            self.broken[calendar_id.lower()] = status

    def heal_calendar(self, calendar_id: str) -> None:
        with self.lock:
            self.broken.pop(calendar_id.lower(), None)

    def expire_sync_tokens(self, calendar_id: str) -> None:
        """Every sync token of this calendar answers 410 from now on."""
        with self.lock:
            self._calendar(calendar_id).generation += 1

    def revoke(self, client_email: str) -> None:
        """The service account's key is revoked: its tokens stop working and new grants are refused."""
        with self.lock:
            self.revoked.add(client_email)
            self.tokens = {k: v for k, v in self.tokens.items() if v["client"] != client_email}

    def requests_for(self, calendar_id: str) -> list[dict]:
        with self.lock:
            return [entry for entry in self.log if entry["calendar"] == calendar_id.lower()]

    def take_notifications(self) -> list[dict]:
        with self.lock:
            taken, self.outbox = self.outbox, []
            return taken

    # --- direct actions of the tenant's people (the "other side", without HTTP) -----------------------------------
    def user_event_create(
        self,
        organiser: str,
        *,
        summary: str,
        start: datetime,
        end: datetime,
        rooms: tuple[str, ...] = (),
        attendees: tuple[str, ...] = (),
        recurrence: tuple[str, ...] = (),
        timezone: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """A person (or a room's delegate, when ``organiser`` is a room) creates an event; rooms are invited."""
        tz = timezone or self.tenant.timezone
        body = {
            "summary": summary,
            "start": {"dateTime": _local_iso(start, tz), "timeZone": tz},
            "end": {"dateTime": _local_iso(end, tz), "timeZone": tz},
            "attendees": [{"email": a} for a in attendees] + [{"email": r, "resource": True} for r in rooms],
        }
        if recurrence:
            body["recurrence"] = list(recurrence)
        if event_id:
            body["id"] = event_id
        with self.lock:
            return self._insert(organiser.lower(), body, actor=organiser.lower())["id"]

    def user_event_patch(self, event_id: str, **changes) -> None:
        """The organiser changes an event (or an instance): ``start``/``end`` datetimes, ``summary``, ``status``."""
        with self.lock:
            event = self._find(event_id)[0]
            body = self._body_from_changes(changes, event["timeZone"])
            self._patch(event["organizer"], event_id, body, actor=event["organizer"])

    def user_event_delete(self, event_id: str) -> None:
        with self.lock:
            event = self._find(event_id)[0]
            self._delete(event["organizer"], event_id, actor=event["organizer"])

    def event_on(self, calendar_id: str, event_id: str) -> dict | None:
        """The event (or instance) as ``calendar_id`` sees it, or None."""
        with self.lock:
            try:
                return self._render_any(calendar_id.lower(), event_id)
            except _Problem:
                return None

    def room_response(self, room: str, event_id: str) -> str | None:
        event = self.event_on(room, event_id)
        if event is None:
            return None
        if event.get("organizer", {}).get("email") == room.lower():
            return "owner"
        for attendee in event.get("attendees", []):
            if attendee["email"] == room.lower():
                return attendee.get("responseStatus")
        return None

    def live_events(self, calendar_id: str, *, single_events: bool = True) -> list[dict]:
        """Every confirmed event (instances expanded) on the calendar that the calendar holds (not declined)."""
        with self.lock:
            cal = calendar_id.lower()
            items = self._full_items(cal, single_events=single_events, tmin=None, tmax=None)
            return [e for e in items if self._holds(cal, e)]

    def seed_events(self, calendar_id: str, count: int, *, start: datetime, minutes: int = 30, gap: int = 60) -> None:
        """Bulk-write ``count`` events straight into a calendar (for the bench), one every ``gap`` minutes."""
        cal = calendar_id.lower()
        tz = self.tenant.timezone
        with self.lock:
            for index in range(count):
                begin = start + timedelta(minutes=gap * index)
                self._insert(
                    cal,
                    {
                        "summary": f"Seeded {index}",
                        "start": {"dateTime": _local_iso(begin, tz), "timeZone": tz},
                        "end": {"dateTime": _local_iso(begin + timedelta(minutes=minutes), tz), "timeZone": tz},
                    },
                    actor=cal,
                    notify=False,
                )

    def seed_slots(self, calendar_id: str, slots, *, summary: str = "Seeded") -> list[str]:
        """Bulk-write events at the given (start, end) pairs straight into a calendar; returns their ids."""
        cal = calendar_id.lower()
        tz = self.tenant.timezone
        ids = []
        with self.lock:
            for index, (begin, end) in enumerate(slots):
                body = {
                    "summary": f"{summary} {index}",
                    "start": {"dateTime": _local_iso(begin, tz), "timeZone": tz},
                    "end": {"dateTime": _local_iso(end, tz), "timeZone": tz},
                }
                ids.append(self._insert(cal, body, actor=cal, notify=False)["id"])
        return ids

    @staticmethod
    def _body_from_changes(changes: dict, tz: str) -> dict:
        body = {}
        for name in ("start", "end"):
            if name in changes:
                body[name] = {"dateTime": _local_iso(changes[name], tz), "timeZone": tz}
        for name in ("summary", "status", "attendees", "recurrence", "location"):
            if name in changes:
                body[name] = changes[name]
        return body

    # --- HTTP -----------------------------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        with self.lock:
            try:
                if request.path == "/token" and request.method == "POST":
                    return self._token(request)
                if request.path == "/o/oauth2/v2/auth" and request.method == "GET":
                    return self._consent(request)
                if request.path == "/revoke" and request.method == "POST":
                    return self._revoke(request)
                if request.path.startswith("/calendar/v3/") or request.path.startswith("/admin/directory/v1/"):
                    subject, scopes = self._authenticate(request)
                    calendar = self._calendar_of_path(request.path)
                    self.log.append(
                        {
                            "method": request.method,
                            "path": request.path,
                            "query": {k: v[0] for k, v in request.query.items()},
                            "calendar": calendar,
                            "at": time.time(),
                        }
                    )
                    if calendar in self.broken:
                        status = self.broken[calendar]
                        return _error(status, "Backend Error", "backendError")
                    failure = self.failures.pop(0) if self.failures else None
                    if failure is not None:
                        return _error(
                            failure["status"],
                            "Rate Limit Exceeded",
                            failure["reason"],
                            domain="usageLimits",
                            headers={"Retry-After": str(failure["retry_after"])},
                        )
                    if request.path.startswith("/admin/"):
                        return self._directory(request, scopes)
                    return self._calendar_api(request, subject, scopes)
                return _error(404, f"No such path {request.path}", "notFound")
            except _Problem as problem:
                return problem.response

    @staticmethod
    def _calendar_of_path(path: str) -> str:
        parts = path.split("/")
        if len(parts) > 4 and parts[3] == "calendars":
            return unquote(parts[4]).lower()
        return ""

    # --- OAuth ----------------------------------------------------------------------------------------------------
    def _token(self, request: FakeRequest) -> FakeResponse:
        self.token_requests += 1
        form = request.form()

        def refuse(error: str, description: str) -> FakeResponse:
            return FakeResponse.json({"error": error, "error_description": description}, status=400)

        if form.get("grant_type") == "authorization_code":
            return self._code_exchange(form, refuse)
        if form.get("grant_type") == "refresh_token":
            return self._refresh(form, refuse)
        if form.get("grant_type") != JWT_BEARER:
            return refuse("unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return refuse("invalid_grant", "Invalid JWT: the assertion cannot be parsed.")
        client = unverified.get("iss", "")
        public_key = self.tenant.service_accounts.get(client)
        if public_key is None:
            return refuse("invalid_grant", "Invalid JWT Signature.")
        if client in self.revoked:
            return refuse("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:
            return refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable time.")
        except jwt.PyJWTError:
            return refuse("invalid_grant", "Invalid JWT Signature.")
        subject = (claims.get("sub") or "").lower()
        if subject not in self.tenant.users:
            return refuse("invalid_grant", "Invalid email or User ID")
        scopes = set((claims.get("scope") or "").split())
        if not scopes or not scopes <= set(DELEGATED_SCOPES):
            return refuse("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method.")
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = {"subject": subject, "scopes": scopes, "client": client, "expires": time.time() + 3600}
        return FakeResponse.json({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # --- OAuth for people (the operator's web client; authorization code with PKCE) ---------------------------
    def add_oauth_client(self, client_id: str, client_secret: str) -> None:
        """Register the operator's OAuth client (any redirect URI is accepted)."""
        with self.lock:
            self.oauth_clients[client_id] = client_secret

    def revoke_grant(self, user: str) -> int:
        """The person removes the app's access in their Google account: every grant of theirs stops working."""
        with self.lock:
            user = user.lower()
            gone = [rt for rt, grant in self.refresh_tokens.items() if grant["subject"] == user]
            for rt in gone:
                del self.refresh_tokens[rt]
            self.tokens = {k: v for k, v in self.tokens.items() if not (v.get("user_grant") and v["subject"] == user)}
            return len(gone)

    def grants_of(self, user: str) -> int:
        with self.lock:
            return sum(1 for grant in self.refresh_tokens.values() if grant["subject"] == user.lower())

    def _consent(self, request: FakeRequest) -> FakeResponse:
        """The consent page: a user of the tenant (``login_hint``, the form's answer, or :attr:`consent_user`)
        approves at once and is sent back with a code; without one, a form asks who signs in."""
        from html import escape
        from urllib.parse import urlencode

        args = {k: v[0] for k, v in request.query.items()}
        if args.get("client_id") not in self.oauth_clients:
            return FakeResponse(status=400, body=b"Error 401: invalid_client", headers={"Content-Type": "text/plain"})
        if args.get("response_type") != "code" or not args.get("redirect_uri"):
            return FakeResponse(status=400, body=b"Error 400: invalid_request", headers={"Content-Type": "text/plain"})
        user = (args.get("login_hint") or self.consent_user or "").lower()
        if user not in self.tenant.users:
            fields = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                for k, v in args.items()
                if k != "login_hint"
            )
            page = (
                "<!doctype html><title>Sign in - Google Accounts (fake)</title><h1>Choose an account</h1>"
                f'<form method="get">{fields}<label>Email <input name="login_hint" type="email"></label>'
                '<button type="submit">Allow</button></form>'
            )
            return FakeResponse(status=200, body=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
        scopes = set(args.get("scope", "").split())
        code = "4/fake-" + secrets.token_urlsafe(24)
        self.codes[code] = {
            "subject": user,
            "client": args["client_id"],
            "redirect_uri": args["redirect_uri"],
            "scopes": scopes,
            "challenge": args.get("code_challenge", ""),
            "method": args.get("code_challenge_method", "plain"),
            "expires": time.time() + 600,
        }
        answer = {"code": code, "scope": " ".join(sorted(scopes))}
        if "state" in args:
            answer["state"] = args["state"]
        location = f"{args['redirect_uri']}{'&' if '?' in args['redirect_uri'] else '?'}{urlencode(answer)}"
        return FakeResponse(status=302, headers={"Location": location})

    def _client_ok(self, form: dict) -> bool:
        secret = self.oauth_clients.get(form.get("client_id", ""))
        return secret is not None and secrets.compare_digest(secret, form.get("client_secret", ""))

    def _user_tokens(self, subject: str, scopes: set[str], client: str) -> dict:
        token = "ya29.fake-user-" + secrets.token_urlsafe(24)
        self.tokens[token] = {
            "subject": subject,
            "scopes": scopes,
            "client": client,
            "expires": time.time() + 3600,
            "user_grant": True,
        }
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": " ".join(sorted(scopes))}

    def _code_exchange(self, form: dict, refuse) -> FakeResponse:
        if not self._client_ok(form):
            return FakeResponse.json({"error": "invalid_client", "error_description": "Unauthorized"}, status=401)
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["expires"] < time.time() or grant["client"] != form.get("client_id"):
            return refuse("invalid_grant", "Malformed auth code.")
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return refuse("redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if grant["challenge"]:
            if grant["method"] == "S256":
                computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            else:
                computed = verifier
            if not secrets.compare_digest(computed, grant["challenge"]):
                return refuse("invalid_grant", "Invalid code verifier.")
        answer = self._user_tokens(grant["subject"], grant["scopes"], grant["client"])
        refresh = "1//fake-" + secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = {
            "subject": grant["subject"],
            "scopes": grant["scopes"],
            "client": grant["client"],
        }
        answer["refresh_token"] = refresh
        if "openid" in grant["scopes"]:
            claims = {
                "iss": "https://accounts.google.com",
                "aud": grant["client"],
                "sub": hashlib.sha256(grant["subject"].encode()).hexdigest()[:21],
                "email": grant["subject"],
                "email_verified": True,
                "iat": int(time.time()),
                "exp": int(time.time()) + 3600,
            }
            answer["id_token"] = jwt.encode(claims, "fake-google-id-token-signing-key-0123456789", algorithm="HS256")
        return FakeResponse.json(answer)

    def _refresh(self, form: dict, refuse) -> FakeResponse:
        if not self._client_ok(form):
            return FakeResponse.json({"error": "invalid_client", "error_description": "Unauthorized"}, status=401)
        grant = self.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or grant["client"] != form.get("client_id"):
            return refuse("invalid_grant", "Token has been expired or revoked.")
        self.refreshes += 1
        return FakeResponse.json(self._user_tokens(grant["subject"], grant["scopes"], grant["client"]))

    def _revoke(self, request: FakeRequest) -> FakeResponse:
        token = request.form().get("token") or request.arg("token") or ""
        grant = self.refresh_tokens.pop(token, None)
        if grant is None and token not in self.tokens:
            return FakeResponse.json({"error": "invalid_token", "error_description": "Bad Request"}, status=400)
        if grant is None:
            self.tokens.pop(token, None)
        else:
            self.tokens = {
                k: v
                for k, v in self.tokens.items()
                if not (v.get("user_grant") and v["subject"] == grant["subject"] and v["client"] == grant["client"])
            }
        return FakeResponse.json({})

    def _authenticate(self, request: FakeRequest) -> tuple[str, set[str]]:
        header = request.headers.get("authorization", "")
        grant = self.tokens.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
        if grant is None or grant["expires"] < time.time():
            raise _Problem(_error(401, "Request had invalid authentication credentials.", "authError", domain="global"))
        return grant["subject"], grant["scopes"]

    # --- Directory ------------------------------------------------------------------------------------------------
    def _directory(self, request: FakeRequest, scopes: set[str]) -> FakeResponse:
        match = re.fullmatch(r"/admin/directory/v1/customer/([^/]+)/resources/calendars", request.path)
        if not match or request.method != "GET":
            return _error(404, "Not found", "notFound")
        if SCOPE_RESOURCES not in scopes:
            return _error(403, "Not Authorized to access this resource/api", "forbidden")
        if unquote(match.group(1)) not in {"my_customer", self.tenant.customer}:
            return _error(404, "Resource Not Found: customer", "notFound")
        rooms = sorted(self.tenant.resources.items(), key=lambda item: item[1]["name"])
        offset = int(request.arg("pageToken") or 0)
        size = min(int(request.arg("maxResults") or 100), 500)
        page = rooms[offset : offset + size]
        items = [
            {
                "kind": "admin#directory#resources#calendars#CalendarResource",
                "resourceId": hashlib.sha1(email.encode()).hexdigest()[:12],  # noqa: S324 - an id, not security
                "resourceName": room["name"],
                "generatedResourceName": f"{room.get('building') or 'Building'}-{room['name']} ({room['capacity']})",
                "resourceEmail": email,
                "resourceType": "Conference room",
                "capacity": room["capacity"],
                "buildingId": room.get("building", ""),
                "floorName": room.get("floor", ""),
            }
            for email, room in page
        ]
        body = {"kind": "admin#directory#resources#calendars#calendarResourcesList", "items": items}
        if offset + size < len(rooms):
            body["nextPageToken"] = str(offset + size)
        return FakeResponse.json(body)

    # --- Calendar API routing -------------------------------------------------------------------------------------
    def _calendar_api(self, request: FakeRequest, subject: str, scopes: set[str]) -> FakeResponse:
        if not scopes & {SCOPE_CALENDAR, SCOPE_CALENDAR_EVENTS}:
            return _error(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
        rest = request.path[len("/calendar/v3/") :]
        if rest == "channels/stop" and request.method == "POST":
            return self._channel_stop(request.json())
        parts = [unquote(p) for p in rest.split("/")]
        if len(parts) < 3 or parts[0] != "calendars" or parts[2] != "events":
            return _error(404, "Not Found", "notFound")
        cal = subject if parts[1] == "primary" else parts[1].lower()
        if cal not in self.tenant.users and cal not in self.tenant.resources:
            return _error(404, "Not Found", "notFound")
        write = request.method in {"POST", "PATCH", "PUT", "DELETE"}
        self._check_access(subject, cal, write=write and not (len(parts) == 4 and parts[3] == "watch"))
        if len(parts) == 3:
            if request.method == "GET":
                return self._list(cal, request)
            if request.method == "POST":
                return FakeResponse.json(self._insert(cal, request.json(), actor=subject))
        elif len(parts) == 4 and parts[3] == "watch" and request.method == "POST":
            return self._watch(cal, request.json())
        elif len(parts) == 4:
            event_id = parts[3]
            if request.method == "GET":
                return FakeResponse.json(self._render_any(cal, event_id))
            if request.method in {"PATCH", "PUT"}:
                return FakeResponse.json(self._patch(cal, event_id, request.json(), actor=subject))
            if request.method == "DELETE":
                self._delete(cal, event_id, actor=subject)
                return FakeResponse.empty(204)
        elif len(parts) == 5 and parts[4] == "instances" and request.method == "GET":
            return self._instances_list(cal, parts[3], request)
        return _error(404, "Not Found", "notFound")

    def _check_access(self, subject: str, cal: str, *, write: bool) -> None:
        if subject == cal:
            return
        user = self.tenant.users.get(subject, {})
        if cal in self.tenant.resources and (user.get("admin") or not write):
            return
        if not write and cal in self.tenant.users:
            return
        raise _Problem(_error(403, "You need to have writer access to this calendar.", "requiredAccessLevel"))

    # --- State helpers --------------------------------------------------------------------------------------------
    def _calendar(self, cal: str) -> _Calendar:
        return self.calendars.setdefault(cal, _Calendar())

    def _members(self, event: dict) -> set[str]:
        known = self.tenant.users.keys() | self.tenant.resources.keys()
        members = {event["organizer"]}
        members |= {a["email"] for a in event["attendees"] if a["email"] in known}
        return members

    def _touch(self, event: dict, *, keys: list[str] | None = None, before: set[str] = frozenset(), notify=True):
        """Record a change of ``event`` (or of some of its instances) on every calendar it is or was on."""
        event["members"] = sorted(self._members(event))
        for cal in set(before) | set(event["members"]):
            self.seq += 1
            log = self._calendar(cal)
            for key in keys or [event["id"]]:
                log.index[key] = self.seq
            if notify:
                self._notify(cal)

    def _find(self, event_id: str) -> tuple[dict, datetime | None]:
        """(master, original start) of an event id or instance id."""
        if event_id in self.events:
            return self.events[event_id], None
        split = _split_instance_id(event_id)
        if split and split[0] in self.events:
            master = self.events[split[0]]
            if master["recurrence"] and any(o == split[1] for o, *_ in self._expand(master, include_cancelled=True)):
                return master, split[1]
        raise _Problem(_error(404, "Not Found", "notFound"))

    # --- recurrence -----------------------------------------------------------------------------------------------
    def _expand(self, event: dict, *, include_cancelled: bool = False):
        """(original start, start, end, override) of each instance of a recurring event, over the horizon."""
        tz = zoneinfo.ZoneInfo(event["timeZone"])
        duration = event["end"] - event["start"]
        local_start = event["start"].astimezone(tz).replace(tzinfo=None)
        rules = [line for line in event["recurrence"] if line.upper().startswith(("RRULE", "RDATE"))]

        def local_until(match) -> str:  # RFC 5545: with a zoned DTSTART, UNTIL is UTC; dateutil wants it local
            moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC).astimezone(tz)
            return "UNTIL=" + moment.strftime("%Y%m%dT%H%M%S")

        rules = [re.sub(r"UNTIL=(\d{8}T\d{6})Z", local_until, line, flags=re.IGNORECASE) for line in rules]
        exdates = set()
        for line in event["recurrence"]:
            if line.upper().startswith("EXDATE"):
                for value in line.split(":", 1)[1].split(","):
                    exdates.add(self._parse_exdate(value.strip(), tz))
        try:
            ruleset = rrulestr("\n".join(rules), dtstart=local_start, forceset=True)
        except (ValueError, TypeError):
            return []
        limit = (self._clock() + HORIZON).astimezone(tz).replace(tzinfo=None)
        instances = []
        for moment in ruleset:
            if moment > limit or len(instances) >= MAX_INSTANCES:
                break
            original = moment.replace(tzinfo=tz).astimezone(UTC)
            if original in exdates:
                continue
            override = event["exceptions"].get(original.isoformat(), {})
            if override.get("status") == "cancelled" and not include_cancelled:
                continue
            start = override.get("start", original)
            end = override.get("end", original + duration)
            instances.append((original, start, end, override))
        return instances

    @staticmethod
    def _parse_exdate(value: str, tz) -> datetime:
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if "T" in value:
            return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz).astimezone(UTC)
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=tz).astimezone(UTC)

    @staticmethod
    def _clock() -> datetime:
        return _now()

    # --- Rendering ------------------------------------------------------------------------------------------------
    def _render(self, event: dict, cal: str) -> dict:
        tz = event["timeZone"]
        body = {
            "kind": "calendar#event",
            "etag": f'"{event["etag"]}"',
            "id": event["id"],
            "status": event["status"],
            "created": _rfc3339(event["created"]),
            "updated": _rfc3339(event["updated"]),
            "summary": event["summary"],
            "creator": {"email": event["creator"]},
            "organizer": {"email": event["organizer"], **({"self": True} if event["organizer"] == cal else {})},
            "start": self._when(event["start"], tz, event["allDay"]),
            "end": self._when(event["end"], tz, event["allDay"]),
            "iCalUID": event["iCalUID"],
            "sequence": event["sequence"],
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        for name in ("description", "location", "transparency"):
            if event.get(name):
                body[name] = event[name]
        if event["recurrence"]:
            body["recurrence"] = list(event["recurrence"])
        if event["attendees"]:
            body["attendees"] = [self._attendee(a, cal, event) for a in event["attendees"]]
        if event["extendedProperties"]:
            body["extendedProperties"] = json.loads(json.dumps(event["extendedProperties"]))
        return body

    @staticmethod
    def _attendee(attendee: dict, cal: str, event: dict) -> dict:
        shown = dict(attendee)
        if attendee["email"] == cal:
            shown["self"] = True
        if attendee["email"] == event["organizer"]:
            shown["organizer"] = True
        return shown

    @staticmethod
    def _when(moment: datetime, tz: str, all_day: bool) -> dict:
        if all_day:
            return {"date": moment.astimezone(zoneinfo.ZoneInfo(tz)).date().isoformat()}
        return {"dateTime": _local_iso(moment, tz), "timeZone": tz}

    def _render_instance(self, event: dict, cal: str, original: datetime, start, end, override: dict) -> dict:
        body = self._render(event, cal)
        body.pop("recurrence", None)
        body["id"] = _instance_id(event["id"], original)
        body["recurringEventId"] = event["id"]
        body["originalStartTime"] = self._when(original, event["timeZone"], event["allDay"])
        body["start"] = self._when(start, event["timeZone"], event["allDay"])
        body["end"] = self._when(end, event["timeZone"], event["allDay"])
        for name in ("summary", "status"):
            if name in override:
                body[name] = override[name]
        if "attendees" in override:
            body["attendees"] = [self._attendee(a, cal, event) for a in override["attendees"]]
        if "etag" in override:
            body["etag"] = f'"{override["etag"]}"'
        if "updated" in override:
            body["updated"] = _rfc3339(override["updated"])
        if event["status"] == "cancelled":
            body["status"] = "cancelled"
        return body

    @staticmethod
    def _cancelled(event_id: str, *, master: dict | None = None, original: datetime | None = None) -> dict:
        etag = f'"{secrets.randbelow(10**12)}"'
        body = {"kind": "calendar#event", "etag": etag, "id": event_id, "status": "cancelled"}
        if master is not None:
            body["recurringEventId"] = master["id"]
            body["originalStartTime"] = FakeGoogle._when(original, master["timeZone"], master["allDay"])
        return body

    def _render_any(self, cal: str, event_id: str) -> dict:
        master, original = self._find(event_id)
        if cal not in master["members"] and cal not in self._members(master):
            raise _Problem(_error(404, "Not Found", "notFound"))
        if original is None:
            return self._render(master, cal)
        for orig, start, end, override in self._expand(master, include_cancelled=True):
            if orig == original:
                return self._render_instance(master, cal, orig, start, end, override)
        raise _Problem(_error(404, "Not Found", "notFound"))

    def _holds(self, cal: str, rendered: dict) -> bool:
        if rendered.get("status") == "cancelled":
            return False
        if rendered.get("organizer", {}).get("email") == cal:
            return True
        return any(a["email"] == cal and a.get("responseStatus") != "declined" for a in rendered.get("attendees", []))

    # --- Listing --------------------------------------------------------------------------------------------------
    def _full_items(self, cal: str, *, single_events: bool, tmin, tmax, show_deleted: bool = False) -> list[dict]:
        items = []
        for key in list(self._calendar(cal).index):
            event = self.events.get(key)
            if event is None or cal not in event["members"]:
                continue
            if event["status"] == "cancelled" and not show_deleted:
                continue
            if event["recurrence"] and single_events:
                for original, start, end, override in self._expand(event, include_cancelled=show_deleted):
                    if (tmin is None or end > tmin) and (tmax is None or start < tmax):
                        items.append(self._render_instance(event, cal, original, start, end, override))
            elif (tmin is None or event["end"] > tmin or event["recurrence"]) and (
                tmax is None or event["start"] < tmax
            ):
                items.append(self._render(event, cal))
        items.sort(key=lambda e: (e["start"].get("dateTime") or e["start"].get("date"), e["id"]))
        return items

    def _changed_items(self, cal: str, *, since: int, until: int, single_events: bool) -> list[dict]:
        log = self._calendar(cal)
        changed = sorted((seq, key) for key, seq in log.index.items() if since < seq <= until)
        items: dict[str, dict] = {}
        for _seq, key in changed:
            event = self.events.get(key)
            if event is not None:
                gone = event["status"] == "cancelled" or cal not in event["members"]
                if event["recurrence"] and single_events:
                    current = {}
                    if not gone:
                        current = {o: (s, e, ov) for o, s, e, ov in self._expand(event, include_cancelled=True)}
                    for original in event["instances_seen"]:
                        original_dt = datetime.fromisoformat(original)
                        instance_id = _instance_id(event["id"], original_dt)
                        items.pop(instance_id, None)
                        hit = current.get(original_dt)
                        if hit is None or hit[2].get("status") == "cancelled":
                            items[instance_id] = self._cancelled(instance_id, master=event, original=original_dt)
                        else:
                            items[instance_id] = self._render_instance(event, cal, original_dt, *hit)
                else:
                    items.pop(key, None)
                    items[key] = self._cancelled(key) if gone else self._render(event, cal)
                continue
            split = _split_instance_id(key)
            if split is None or split[0] not in self.events:
                continue
            master = self.events[split[0]]
            gone = master["status"] == "cancelled" or cal not in master["members"]
            match = None
            if not gone:
                match = next((x for x in self._expand(master, include_cancelled=True) if x[0] == split[1]), None)
            items.pop(key, None)
            if match is None or match[3].get("status") == "cancelled":
                items[key] = self._cancelled(key, master=master, original=split[1])
            else:
                items[key] = self._render_instance(master, cal, *match)
        return list(items.values())

    def _list(self, cal: str, request: FakeRequest) -> FakeResponse:
        sync_token = request.arg("syncToken")
        single = (request.arg("singleEvents") or "false").lower() == "true"
        if sync_token:
            clashing = [name for name in _SYNC_FORBIDDEN if request.arg(name)]
            if clashing:
                return _error(400, f"Sync token cannot be combined with {', '.join(clashing)}.", "invalid")
        if request.arg("orderBy") == "startTime" and not single:
            return _error(400, "The requested ordering is not available for the particular query.", "invalid")
        try:
            size = min(int(request.arg("maxResults") or DEFAULT_RESULTS), MAX_RESULTS)
        except ValueError:
            return _error(400, "Invalid value for maxResults.", "invalid")
        log = self._calendar(cal)
        page_token = request.arg("pageToken")
        if page_token:
            try:
                state = _unb64(page_token)
            except ValueError:
                return _error(400, "Invalid page token.", "invalid")
        else:
            state = {"o": 0, "s": self.seq}
            if sync_token:
                try:
                    token = _unb64(sync_token)
                except ValueError:
                    token = {}
                if (
                    token.get("c") != cal
                    or token.get("g") != log.generation
                    or token.get("e") != single
                    or not isinstance(token.get("s"), int)
                ):
                    return _error(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
                state["since"] = token["s"]
        if "since" in state:
            items = self._changed_items(cal, since=state["since"], until=state["s"], single_events=single)
        else:
            tmin = self._time_arg(request, "timeMin")
            tmax = self._time_arg(request, "timeMax")
            show_deleted = (request.arg("showDeleted") or "false").lower() == "true"
            items = self._full_items(cal, single_events=single, tmin=tmin, tmax=tmax, show_deleted=show_deleted)
        offset = state["o"]
        page = items[offset : offset + size]
        body = {
            "kind": "calendar#events",
            "etag": f'"{state["s"]}"',
            "summary": cal,
            "updated": _rfc3339(_now()),
            "timeZone": self.tenant.timezone,
            "accessRole": "owner",
            "defaultReminders": [],
            "items": page,
        }
        if offset + size < len(items):
            body["nextPageToken"] = _b64({**state, "o": offset + size})
        else:
            body["nextSyncToken"] = _b64({"c": cal, "s": state["s"], "g": log.generation, "e": single})
        return FakeResponse.json(body)

    @staticmethod
    def _time_arg(request: FakeRequest, name: str) -> datetime | None:
        value = request.arg(name)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _Problem(_error(400, f"Bad Request: {name}", "badRequest")) from None
        if moment.tzinfo is None:
            raise _Problem(_error(400, f"Bad Request: {name} needs an offset", "badRequest"))
        return moment.astimezone(UTC)

    def _instances_list(self, cal: str, event_id: str, request: FakeRequest) -> FakeResponse:
        master, original = self._find(event_id)
        if original is not None or not master["recurrence"]:
            return FakeResponse.json({"kind": "calendar#events", "items": []})
        tmin, tmax = self._time_arg(request, "timeMin"), self._time_arg(request, "timeMax")
        items = [
            self._render_instance(master, cal, o, s, e, ov)
            for o, s, e, ov in self._expand(master)
            if (tmin is None or e > tmin) and (tmax is None or s < tmax)
        ]
        size = min(int(request.arg("maxResults") or DEFAULT_RESULTS), MAX_RESULTS)
        offset = int(request.arg("pageToken") or 0)
        body = {"kind": "calendar#events", "items": items[offset : offset + size]}
        if offset + size < len(items):
            body["nextPageToken"] = str(offset + size)
        return FakeResponse.json(body)

    # --- Writes ---------------------------------------------------------------------------------------------------
    def _insert(self, cal: str, body: dict, *, actor: str, notify: bool = True) -> dict:
        event_id = body.get("id") or f"{secrets.token_hex(13)}"
        if body.get("id") and not _BASE32HEX.match(event_id):
            raise _Problem(_error(400, "Invalid resource id value.", "invalid"))
        if event_id in self.events:
            raise _Problem(_error(409, "The requested identifier already exists.", "duplicate"))
        default_tz = self.tenant.timezone
        start, tz, all_day = _parse_when(body.get("start"), default_tz)
        end, _tz, _all_day = _parse_when(body.get("end"), tz)
        if end < start:
            raise _Problem(_error(400, "The specified time range is empty.", "timeRangeEmpty"))
        now = _now()
        attendees = []
        for raw in body.get("attendees") or []:
            email = (raw.get("email") or "").lower()
            if not email:
                continue
            attendee = {"email": email, "responseStatus": raw.get("responseStatus") or "needsAction"}
            if raw.get("resource") or email in self.tenant.resources:
                attendee["resource"] = True
            if email == cal:
                attendee["responseStatus"] = "accepted"
            attendees.append(attendee)
        event = {
            "id": event_id,
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "organizer": cal,
            "creator": actor,
            "summary": body.get("summary", ""),
            "description": body.get("description", ""),
            "location": body.get("location", ""),
            "transparency": body.get("transparency", ""),
            "status": "confirmed",
            "start": start,
            "end": end,
            "timeZone": tz,
            "allDay": all_day,
            "attendees": attendees,
            "recurrence": list(body.get("recurrence") or []),
            "exceptions": {},
            "extendedProperties": body.get("extendedProperties") or {},
            "created": now,
            "updated": now,
            "sequence": 0,
            "etag": next(self._ids),
            "members": [],
            "instances_seen": [],
        }
        self.events[event_id] = event
        self._resources_respond(event)
        self._remember_instances(event)
        self._touch(event, notify=notify)
        return self._render(event, cal)

    def _remember_instances(self, event: dict) -> None:
        if not event["recurrence"]:
            return
        seen = set(event["instances_seen"])
        for original, *_rest in self._expand(event, include_cancelled=True):
            seen.add(original.isoformat())
        event["instances_seen"] = sorted(seen)

    def _intervals(self, event: dict) -> list[tuple[datetime, datetime]]:
        if event["recurrence"]:
            return [(s, e) for _o, s, e, _ov in self._expand(event)]
        return [(event["start"], event["end"])]

    def _room_busy(self, room: str, intervals, *, ignore: str) -> bool:
        for key in self._calendar(room).index:
            other = self.events.get(key)
            if other is None or other["id"] == ignore or other["status"] == "cancelled":
                continue
            if room not in other["members"]:
                continue
            holds = other["organizer"] == room or any(
                a["email"] == room and a["responseStatus"] == "accepted" for a in other["attendees"]
            )
            if not holds:
                continue
            for o_start, o_end in self._intervals(other):
                if any(_overlaps(s, e, o_start, o_end) for s, e in intervals):
                    return True
        return False

    def _resources_respond(self, event: dict, *, reset: bool = False) -> None:
        """Rooms invited (or re-asked after a move) accept, or decline when busy; a room busy for some instances of
        a recurring event declines those instances only."""
        for attendee in event["attendees"]:
            room = self.tenant.resources.get(attendee["email"])
            if room is None or not room.get("auto_accept", True) or attendee["email"] == event["organizer"]:
                continue
            if attendee["responseStatus"] != "needsAction" and not reset:
                continue
            attendee.pop("comment", None)
            if not event["recurrence"]:
                busy = self._room_busy(attendee["email"], self._intervals(event), ignore=event["id"])
                attendee["responseStatus"] = "declined" if busy else "accepted"
                continue
            instances = self._expand(event)
            busy = [o for o, s, e, _ov in instances if self._room_busy(attendee["email"], [(s, e)], ignore=event["id"])]
            if len(busy) == len(instances):
                attendee["responseStatus"] = "declined"
                continue
            attendee["responseStatus"] = "accepted"
            for original in busy:
                override = event["exceptions"].setdefault(original.isoformat(), {})
                copies = override.setdefault("attendees", [dict(a) for a in event["attendees"]])
                for copy in copies:
                    if copy["email"] == attendee["email"]:
                        copy["responseStatus"] = "declined"

    def _patch(self, cal: str, event_id: str, body: dict, *, actor: str) -> dict:
        master, original = self._find(event_id)
        if master["status"] == "cancelled" and body.get("status") != "confirmed":
            raise _Problem(_error(404, "Not Found", "notFound"))
        before = set(master["members"])
        if cal != master["organizer"]:
            return self._respond_as_attendee(cal, master, original, body)
        now = _now()
        if original is not None:
            return self._patch_instance(cal, master, original, body, now)
        moved = False
        if "start" in body or "end" in body:
            start, tz, all_day = _parse_when(body.get("start") or self._when_body(master, "start"), master["timeZone"])
            end, _tz, _all_day = _parse_when(body.get("end") or self._when_body(master, "end"), tz)
            moved = (start, end) != (master["start"], master["end"])
            master.update(start=start, end=end, timeZone=tz, allDay=all_day)
        for name in ("summary", "description", "location", "transparency", "status"):
            if name in body:
                master[name] = body[name] or ("confirmed" if name == "status" else "")
        if "recurrence" in body:
            master["recurrence"] = list(body["recurrence"] or [])
            moved = True
        if "extendedProperties" in body:
            for scope, values in (body["extendedProperties"] or {}).items():
                master["extendedProperties"].setdefault(scope, {}).update(values or {})
        if "attendees" in body:
            old = {a["email"]: a for a in master["attendees"]}
            master["attendees"] = []
            for raw in body["attendees"] or []:
                email = (raw.get("email") or "").lower()
                kept = dict(old.get(email, {"email": email, "responseStatus": "needsAction"}))
                if "responseStatus" in raw and email == cal:
                    kept["responseStatus"] = raw["responseStatus"]
                elif "responseStatus" in raw and email not in self.tenant.users and email not in self.tenant.resources:
                    # A guest outside Google: the organiser records its answer (and why), as Calendar allows.
                    kept["responseStatus"] = raw["responseStatus"]
                    if raw.get("comment"):
                        kept["comment"] = str(raw["comment"])[:300]
                if raw.get("resource") or email in self.tenant.resources:
                    kept["resource"] = True
                master["attendees"].append(kept)
        if moved:
            master["sequence"] += 1
            for attendee in master["attendees"]:
                if attendee.get("resource") and attendee["email"] != master["organizer"]:
                    attendee["responseStatus"] = "needsAction"
        self._resources_respond(master)
        master["updated"] = now
        master["etag"] = next(self._ids)
        self._remember_instances(master)
        self._touch(master, before=before)
        return self._render(master, cal)

    @staticmethod
    def _when_body(event: dict, name: str) -> dict:
        return FakeGoogle._when(event[name], event["timeZone"], event["allDay"])

    def _patch_instance(self, cal: str, master: dict, original: datetime, body: dict, now: datetime) -> dict:
        key = original.isoformat()
        override = master["exceptions"].setdefault(key, {})
        duration = master["end"] - master["start"]
        start = override.get("start", original)
        end = override.get("end", original + duration)
        if "start" in body:
            start = _parse_when(body["start"], master["timeZone"])[0]
        if "end" in body:
            end = _parse_when(body["end"], master["timeZone"])[0]
        if (start, end) != (override.get("start", original), override.get("end", original + duration)):
            override["start"], override["end"] = start, end
            attendees = [dict(a) for a in override.get("attendees", master["attendees"])]
            for attendee in attendees:
                if attendee.get("resource") and attendee["email"] != master["organizer"]:
                    busy = self._room_busy(attendee["email"], [(start, end)], ignore=master["id"])
                    attendee["responseStatus"] = "declined" if busy else "accepted"
            override["attendees"] = attendees
        for name in ("summary", "status"):
            if name in body:
                override[name] = body[name]
        override["etag"] = next(self._ids)
        override["updated"] = now
        instance_id = _instance_id(master["id"], original)
        self._touch(master, keys=[instance_id])
        return self._render_any(cal, instance_id)

    def _respond_as_attendee(self, cal: str, master: dict, original: datetime | None, body: dict) -> dict:
        """An attendee's calendar may only change its own response (and comment)."""
        changes = [a for a in body.get("attendees") or [] if (a.get("email") or "").lower() == cal]
        other_fields = set(body) - {"attendees"}
        if not changes or other_fields:
            raise _Problem(_error(403, "Only the organizer can change this event.", "forbiddenForNonOrganizer"))
        change = changes[0]
        if original is None:
            targets = [master["attendees"]]
        else:
            override = master["exceptions"].setdefault(original.isoformat(), {})
            override.setdefault("attendees", [dict(a) for a in master["attendees"]])
            targets = [override["attendees"]]
        for attendees in targets:
            for attendee in attendees:
                if attendee["email"] == cal:
                    if change.get("responseStatus"):
                        attendee["responseStatus"] = change["responseStatus"]
                    if "comment" in change:
                        attendee["comment"] = change["comment"]
        now = _now()
        if original is None:
            master["etag"] = next(self._ids)
            master["updated"] = now
            self._touch(master)
            return self._render(master, cal)
        override["etag"] = next(self._ids)
        override["updated"] = now
        instance_id = _instance_id(master["id"], original)
        self._touch(master, keys=[instance_id])
        return self._render_any(cal, instance_id)

    def _delete(self, cal: str, event_id: str, *, actor: str) -> None:
        master, original = self._find(event_id)
        if cal not in master["members"]:
            raise _Problem(_error(404, "Not Found", "notFound"))
        if cal != master["organizer"]:  # an attendee removing it from its calendar declines it
            declined = {"attendees": [{"email": cal, "responseStatus": "declined"}]}
            self._respond_as_attendee(cal, master, original, declined)
            return
        if original is not None:
            override = master["exceptions"].setdefault(original.isoformat(), {})
            if override.get("status") == "cancelled":
                raise _Problem(_error(410, "Resource has been deleted", "deleted"))
            override["status"] = "cancelled"
            override["etag"] = next(self._ids)
            self._touch(master, keys=[_instance_id(master["id"], original)])
            return
        if master["status"] == "cancelled":
            raise _Problem(_error(410, "Resource has been deleted", "deleted"))
        master["status"] = "cancelled"
        master["updated"] = _now()
        master["etag"] = next(self._ids)
        self._touch(master)

    # --- Push -----------------------------------------------------------------------------------------------------
    def _watch(self, cal: str, body: dict) -> FakeResponse:
        channel_id = body.get("id") or ""
        if body.get("type") not in {"web_hook", "webhook"} or not channel_id or not body.get("address"):
            return _error(400, "Invalid channel: id, type web_hook and address are required.", "invalid")
        if channel_id in self.channels and not self.channels[channel_id]["stopped"]:
            return _error(400, f"Channel id {channel_id} not unique", "channelIdNotUnique")
        now_ms = int(time.time() * 1000)
        longest = now_ms + int(self.channel_ttl.total_seconds() * 1000)
        requested = int(body.get("expiration") or longest)
        expiration = min(requested, longest)
        resource_id = hashlib.sha1(cal.encode()).hexdigest()[:20]  # noqa: S324 - an id, not security
        self.channels[channel_id] = {
            "id": channel_id,
            "calendar": cal,
            "address": body["address"],
            "token": body.get("token", ""),
            "resourceId": resource_id,
            "expiration": expiration,
            "stopped": False,
            "messages": 0,
        }
        self._push(self.channels[channel_id], state="sync")
        return FakeResponse.json(
            {
                "kind": "api#channel",
                "id": channel_id,
                "resourceId": resource_id,
                "resourceUri": f"https://www.googleapis.com/calendar/v3/calendars/{cal}/events?alt=json",
                "token": body.get("token", ""),
                "expiration": str(expiration),
            }
        )

    def _channel_stop(self, body: dict) -> FakeResponse:
        channel = self.channels.get(body.get("id") or "")
        if channel is None or channel["stopped"] or channel["resourceId"] != body.get("resourceId"):
            return _error(404, f"Channel '{body.get('id')}' not found for project", "notFound")
        channel["stopped"] = True
        return FakeResponse.empty(204)

    def active_channels(self, calendar_id: str) -> list[dict]:
        now_ms = int(time.time() * 1000)
        with self.lock:
            return [
                dict(c)
                for c in self.channels.values()
                if c["calendar"] == calendar_id.lower() and not c["stopped"] and c["expiration"] > now_ms
            ]

    def _notify(self, cal: str) -> None:
        now_ms = int(time.time() * 1000)
        for channel in self.channels.values():
            if channel["calendar"] == cal and not channel["stopped"] and channel["expiration"] > now_ms:
                self._push(channel, state="exists")

    def _push(self, channel: dict, *, state: str) -> None:
        channel["messages"] += 1
        notification = {
            "address": channel["address"],
            "headers": {
                "X-Goog-Channel-ID": channel["id"],
                "X-Goog-Channel-Token": channel["token"],
                "X-Goog-Channel-Expiration": datetime.fromtimestamp(channel["expiration"] / 1000, UTC).strftime(
                    "%a, %d %b %Y %H:%M:%S GMT"
                ),
                "X-Goog-Resource-ID": channel["resourceId"],
                "X-Goog-Resource-URI": f"https://www.googleapis.com/calendar/v3/calendars/{channel['calendar']}/events",
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": str(channel["messages"]),
            },
        }
        if self._delivery is not None:
            self._delivery.put(notification)
        else:
            self.outbox.append(notification)

    def _deliver_forever(self) -> None:
        while True:
            notification = self._delivery.get()
            request = urllib.request.Request(  # noqa: S310 - the address the channel was created with (loopback)
                notification["address"], data=b"", method="POST", headers=notification["headers"]
            )
            try:
                with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                    pass
            except OSError as exc:
                logger.info("push to %s failed: %s", notification["address"], exc)

    # --- Persistence (make run) -----------------------------------------------------------------------------------
    def dump_state(self) -> dict:
        with self.lock:

            def encode(value):
                if isinstance(value, datetime):
                    return {"$dt": value.isoformat()}
                if isinstance(value, dict):
                    return {k: encode(v) for k, v in value.items()}
                if isinstance(value, list):
                    return [encode(v) for v in value]
                return value

            return {
                "seq": self.seq,
                "ids": next(self._ids),
                "events": encode(self.events),
                "calendars": {k: {"index": v.index, "generation": v.generation} for k, v in self.calendars.items()},
                "channels": self.channels,
                "refresh_tokens": {k: {**v, "scopes": sorted(v["scopes"])} for k, v in self.refresh_tokens.items()},
            }

    def load_state(self, state: dict) -> None:
        def decode(value):
            if isinstance(value, dict):
                if set(value) == {"$dt"}:
                    return datetime.fromisoformat(value["$dt"])
                return {k: decode(v) for k, v in value.items()}
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        with self.lock:
            self.seq = state["seq"]
            self._ids = itertools.count(state["ids"])
            self.events = decode(state["events"])
            self.calendars = {
                k: _Calendar(index=v["index"], generation=v["generation"]) for k, v in state["calendars"].items()
            }
            self.channels = state["channels"]
            self.refresh_tokens = {
                k: {**v, "scopes": set(v["scopes"])} for k, v in state.get("refresh_tokens", {}).items()
            }


# --- Serving it (manage.py calendar_fakes) -------------------------------------------------------------------------


class _Served:
    """A running fake Google: its server and the thread that saves its state every few seconds."""

    def __init__(self, fake: FakeGoogle, server, state_path):
        self.fake, self.server, self.state_path = fake, server, state_path
        self._stop = threading.Event()
        self._saved_seq = -1
        self._thread = threading.Thread(target=self._save_forever, name="fake-google-state", daemon=True)
        self._thread.start()

    def save(self) -> None:
        if self.fake.seq == self._saved_seq:
            return
        state = self.fake.dump_state()
        # A temporary file of its own per call: the saver thread and a save at stop never write into one file.
        write_atomically(self.state_path, json.dumps(state), private=True)
        self._saved_seq = state["seq"]

    def _save_forever(self) -> None:
        while not self._stop.wait(2.0):
            try:
                self.save()
            except OSError as exc:
                logger.warning("could not save the fake's state: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self.save()
        self.server.stop()


def serve(*, state_dir, port: int, stdout):
    """Serve the tenant of ``state_dir/google-tenant.json`` (written by ``demo_site``) on ``port``, pushing
    notifications over HTTP and keeping its state in ``google-state.json``."""
    from pathlib import Path

    from calendars.fakes.server import FakeServer

    state_dir = Path(state_dir)
    tenant_path = state_dir / "google-tenant.json"
    if tenant_path.exists():
        tenant = Tenant.from_dict(json.loads(tenant_path.read_text()))
    else:
        tenant = Tenant(domain="labs-demo.example")
        stdout.write(f"google: no {tenant_path} (run `manage.py demo_site`): serving an empty tenant")
    fake = FakeGoogle(tenant, deliver_notifications=True)
    state_path = state_dir / "google-state.json"
    if state_path.exists():
        try:
            fake.load_state(json.loads(state_path.read_text()))
        except (ValueError, KeyError) as exc:
            stdout.write(f"google: ignoring unreadable state {state_path}: {exc}")
    server = FakeServer(fake, port=port).start()
    stdout.write(
        f"google: fake Google on {server.base_url} ({len(tenant.resources)} rooms, {len(tenant.users)} users): "
        f"GOOGLE_API_ENDPOINT={server.base_url}/calendar/v3/ GOOGLE_ADMIN_API_ENDPOINT={server.base_url}/"
    )
    return _Served(fake, server, state_path)
