"""A fake Microsoft identity platform and Microsoft Graph, for tests, the benchmark and ``make run``.

The real client libraries run unmodified against it: msal's ``ConfidentialClientApplication`` (client credentials)
and ``requests``. It serves TLS with a certificate authority generated at start (msal refuses ``http``), so a client
trusts it through ``MS_CA_BUNDLE`` = :attr:`FakeMicrosoft.ca_bundle`; msal's tenant discovery is served here
(``/{tenant}/v2.0/.well-known/openid-configuration``) and so is the legacy instance discovery, so nothing leaves for
Microsoft. What is faked, from Microsoft's public documentation:

- identity: tenant discovery and ``POST /{tenant}/oauth2/v2.0/token`` (``client_credentials``, secret in the body or
  in HTTP Basic); a wrong secret is ``401 invalid_client`` (AADSTS7000215), an unknown tenant ``400`` (AADSTS90002);
- mailboxes (users and rooms) of a tenant, Exchange's room processing: an event written by an organiser mailbox
  with a room as a ``resource`` attendee is accepted by the room (a copy with the same ``iCalUId`` appears in the
  room's calendar, its subject rewritten to the organiser's name, its body and extended properties dropped) or
  declined when it overlaps the room's calendar; a cancelled or deleted meeting leaves the room's calendar. Writing
  straight into a room mailbox bypasses all of that, as it does at Microsoft;
- ``GET /users/{id}/calendarView/delta``: the window is fixed by the first call and encoded in the state tokens;
  ``Prefer: odata.maxpagesize`` (default 10, at most 1000) and ``outlook.timezone``; ``@odata.nextLink`` and, on the
  last page only, ``@odata.deltaLink``; occurrences and exceptions, never the series master; ``@removed`` items; an
  unknown or expired token is ``410 syncStateNotFound``. An unchanged calendar costs one request;
- events: list (``$filter`` by ``iCalUId`` or by a single-value extended property), get (``$expand`` of
  ``singleValueExtendedProperties``), create (``transactionId`` is idempotent), patch, delete, ``instances``,
  ``accept``/``decline``/``cancel`` (with a comment);
- ``GET /places/microsoft.graph.room``;
- subscriptions on ``/users/{id}/events``: create (the ``validationToken`` handshake on the notification URL and the
  lifecycle URL first; refused unless each echoes the token within 10 s), get, renew (PATCH ``expirationDateTime``,
  at most 10 080 minutes ahead), reauthorize, delete; change notifications (created, updated, deleted) and lifecycle
  notifications (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``) POSTed to the project;
- throttling: at most 4 concurrent requests per mailbox (``429 ApplicationThrottled``, MailboxConcurrency), and
  injected 429s with ``Retry-After`` (:meth:`FakeMicrosoft.throttle`).

Deliberate differences: notification URLs may be plain ``http`` (a local project has no certificate), and state
lives in memory. Tests drive the fake through its Python API (:meth:`FakeMicrosoft.outlook_create` and friends act as
a person in Outlook; :meth:`drop_notifications`, :meth:`expire_delta_tokens`, :meth:`count` ...). The module needs
only the standard library, ``cryptography`` and ``requests``: it imports nothing from Django.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import random
import re
import secrets
import ssl
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from tzlocal.windows_tz import win_tz

from labs.files import write_atomically

logger = logging.getLogger(__name__)

DEFAULT_TENANT_ID = "8f2b6c1e-0d1a-4c3e-9b7a-5d4c3b2a1f00"
DEFAULT_TENANT_DOMAIN = "contoso.test"
DEFAULT_CLIENT_ID = "0b7c5a3e-2f1d-4e6b-8a9c-1d2e3f4a5b6c"
DEFAULT_CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - the fake's own test credential
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ACCESS_TOKEN_LIFETIME = 3599
SUBSCRIPTION_MAX_MINUTES = 10080  # Outlook events: under 7 days
VALIDATION_TIMEOUT = 10.0
NOTIFICATION_TIMEOUT = 3.0
MAILBOX_CONCURRENCY = 4
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
PERMISSIONS = frozenset({"Calendars.ReadWrite", "Place.Read.All"})
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


# --- TLS: a certificate authority and a server certificate, made once per directory ----------------------------


@dataclass(frozen=True)
class TLSFiles:
    """The fake's CA (what clients trust: ``MS_CA_BUNDLE``) and its server certificate and key."""

    ca_bundle: Path
    certificate: Path
    key: Path


def ensure_tls(directory: Path | str) -> TLSFiles:
    """Write a CA and a server certificate for 127.0.0.1/localhost under ``directory``; reuse them while valid."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    if all(path.exists() for path in (files.ca_bundle, files.certificate, files.key)):
        try:
            existing = x509.load_pem_x509_certificate(files.certificate.read_bytes())
            if existing.not_valid_after_utc > datetime.now(UTC) + timedelta(days=7):
                return files
        except ValueError:
            pass

    # Certificate validity is checked by OpenSSL against the machine's clock, which time-machine does not move.
    now = datetime.fromtimestamp(time.clock_gettime(time.CLOCK_REALTIME), UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labs fake Microsoft test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_atomically(
        files.key,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        private=True,
    )
    write_atomically(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    write_atomically(files.ca_bundle, ca.public_bytes(serialization.Encoding.PEM))
    return files


# --- time ------------------------------------------------------------------------------------------------------


def zone(name: str | None) -> ZoneInfo:
    """The zone of a Graph time-zone name: Windows names (CLDR windowsZones), IANA names, or UTC."""
    if not name or name in {"UTC", "tzone://Microsoft/Utc", "Etc/UTC"}:
        return ZoneInfo("UTC")
    if name in win_tz:
        return ZoneInfo(win_tz[name])
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"A valid TimeZone value must be specified: {name}."
        raise GraphError(400, "TimeZoneNotSupportedException", message) from None


def graph_datetime(value: datetime, tz: ZoneInfo) -> dict:
    local = value.astimezone(tz).replace(tzinfo=None)
    name = "UTC" if tz.key in {"UTC", "Etc/UTC"} else tz.key
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": name}


def _parse_graph_datetime(payload: dict | None, field_name: str) -> datetime:
    if not isinstance(payload, dict) or not payload.get("dateTime"):
        raise GraphError(400, "ErrorInvalidRequest", f"{field_name} must be a dateTimeTimeZone.")
    try:
        parsed = datetime.fromisoformat(str(payload["dateTime"]).replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", f"{field_name}.dateTime is not a date and time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(payload.get("timeZone")))
    return parsed.astimezone(UTC)


def _parse_query_datetime(value: str | None, name: str) -> datetime:
    if not value:
        raise GraphError(400, "ErrorInvalidParameter", f"This request requires a time window specified by {name}.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter", f"{name} is not a valid date and time: {value}.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


# --- errors and small helpers --------------------------------------------------------------------------------


class GraphError(Exception):
    """An error answer: ``{"error": {"code", "message"}}`` with its status (and headers, for a 429)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class IdentityError(Exception):
    """An error answer of the identity platform (OAuth 2 error body)."""

    def __init__(self, status: int, error: str, description: str, codes: list[int]):
        super().__init__(description)
        self.status, self.error, self.description, self.codes = status, error, description, codes


def _new_id(prefix: str = "AAMk") -> str:
    return prefix + base64.urlsafe_b64encode(uuid.uuid4().bytes + secrets.token_bytes(8)).decode()


def _occurrence_id(master_id: str, original_start: datetime) -> str:
    raw = f"occ|{master_id}|{original_start.astimezone(UTC):%Y%m%dT%H%M%S}".encode()
    return "AAMkOc" + base64.urlsafe_b64encode(raw).decode()


def _split_occurrence_id(event_id: str) -> tuple[str, datetime] | None:
    if not event_id.startswith("AAMkOc"):
        return None
    try:
        kind, master_id, stamp = base64.urlsafe_b64decode(event_id[6:].encode()).decode().split("|")
        if kind != "occ":
            return None
        return master_id, datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except (ValueError, UnicodeDecodeError):
        return None


def _ical_uid() -> str:
    return "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper()


def _overlaps(start: datetime, end: datetime, lo: datetime, hi: datetime) -> bool:
    return start < hi and end > lo


# --- the directory and the calendars ------------------------------------------------------------------------


@dataclass
class App:
    """An app registration (client credentials) in a tenant, with its application permissions."""

    tenant_id: str
    client_id: str
    client_secret: str
    permissions: set[str] = field(default_factory=lambda: set(PERMISSIONS))
    user: str = ""  # a delegated token: the signed-in person, whose own mailbox is all it reaches


@dataclass
class Tenant:
    """A Microsoft Entra tenant: its id and its domain."""

    id: str
    domain: str


@dataclass
class Mailbox:
    """A user or room mailbox and its calendar (series masters and single events, keyed by id)."""

    address: str
    name: str
    kind: str  # "user" or "room"
    tenant_id: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    auto_accept: bool = True
    allow_conflicts: bool = False
    rewrite_subject: bool = True
    remove_cancelled: bool = True
    capacity: int | None = None
    building: str | None = None
    floor: int | None = None
    events: dict[str, Event] = field(default_factory=dict)
    seq: int = 0
    transactions: dict[str, str] = field(default_factory=dict)


@dataclass
class Event:
    """A single event or a series master in one mailbox; a series keeps its exceptions and cancelled occurrences."""

    id: str
    ical_uid: str
    mailbox: Mailbox
    subject: str
    start: datetime
    end: datetime
    time_zone: str
    organizer: tuple[str, str]  # (name, address)
    attendees: list[dict]  # {"address", "name", "type", "response"}
    location: str = ""
    body: str = ""
    is_organizer: bool = True
    response: str = "organizer"
    recurrence: dict | None = None
    exceptions: dict[datetime, dict] = field(default_factory=dict)  # original start -> {"start", "end", "subject"}
    cancelled: set[datetime] = field(default_factory=set)
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower(id) -> (id, value)
    transaction_id: str | None = None
    sensitivity: str = "normal"
    show_as: str = "busy"
    is_cancelled: bool = False
    created: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)
    seq: int = 0

    @property
    def is_series(self) -> bool:
        return self.recurrence is not None


@dataclass(frozen=True)
class Instance:
    """What a calendar view shows: a single event, or one occurrence or exception of a series."""

    id: str
    type: str  # singleInstance, occurrence, exception
    event: Event
    original_start: datetime | None
    start: datetime
    end: datetime
    subject: str

    def fingerprint(self) -> str:
        event = self.event
        parts = [
            self.type,
            _iso(self.start),
            _iso(self.end),
            self.subject,
            event.location,
            event.organizer[1],
            str(event.is_cancelled),
            event.sensitivity,
            event.show_as,
            ";".join(f"{a['address']}:{a.get('response')}" for a in event.attendees),
        ]
        return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def occurrence_starts(event: Event, until: datetime) -> list[datetime]:
    """The original starts (UTC) of a series' occurrences up to ``until``, computed in its local time."""
    recurrence = event.recurrence or {}
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    tz = zone(span.get("recurrenceTimeZone") or event.time_zone)
    local_time: dtime = event.start.astimezone(tz).time()
    first = date.fromisoformat(span.get("startDate") or event.start.astimezone(tz).date().isoformat())
    last = date.fromisoformat(span["endDate"]) if span.get("type") == "endDate" and span.get("endDate") else None
    count = int(span.get("numberOfOccurrences") or 0) if span.get("type") == "numbered" else 0
    limit = until.astimezone(tz).date() + timedelta(days=1)
    interval = max(1, int(pattern.get("interval") or 1))
    kind = pattern.get("type", "daily")
    starts: list[datetime] = []

    def days():
        if kind == "daily":
            day = first
            while True:
                yield day
                day += timedelta(days=interval)
        elif kind == "weekly":
            wanted = {_WEEKDAYS.index(d.lower()) for d in pattern.get("daysOfWeek") or [_WEEKDAYS[first.weekday()]]}
            first_day = _WEEKDAYS.index((pattern.get("firstDayOfWeek") or "sunday").lower())
            week = first - timedelta(days=(first.weekday() - first_day) % 7)
            while True:
                for offset in range(7):
                    day = week + timedelta(days=offset)
                    if day >= first and day.weekday() in wanted:
                        yield day
                week += timedelta(weeks=interval)
        elif kind == "absoluteMonthly":
            day_of_month = int(pattern.get("dayOfMonth") or first.day)
            year, month = first.year, first.month
            while True:
                with contextlib.suppress(ValueError):
                    day = date(year, month, day_of_month)
                    if day >= first:
                        yield day
                month += interval
                year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        else:
            raise GraphError(400, "ErrorInvalidRequest", f"Recurrence pattern {kind!r} is not supported by the fake.")

    for day in days():
        if (last and day > last) or (count and len(starts) >= count) or day > limit:
            break
        starts.append(datetime.combine(day, local_time, tzinfo=tz).astimezone(UTC))
    return starts


def instances(event: Event, lo: datetime, hi: datetime) -> list[Instance]:
    """The instances of ``event`` that overlap ``[lo, hi)``."""
    if not event.is_series:
        if _overlaps(event.start, event.end, lo, hi):
            return [Instance(event.id, "singleInstance", event, None, event.start, event.end, event.subject)]
        return []
    duration = event.end - event.start
    horizon = hi + max([timedelta(days=1)] + [abs(x["start"] - os) for os, x in event.exceptions.items()])
    found = []
    for original in occurrence_starts(event, horizon):
        if original in event.cancelled:
            continue
        override = event.exceptions.get(original)
        if override:
            start, end, subject, kind = override["start"], override["end"], override.get("subject"), "exception"
        else:
            start, end, subject, kind = original, original + duration, None, "occurrence"
        if _overlaps(start, end, lo, hi):
            found.append(
                Instance(
                    _occurrence_id(event.id, original), kind, event, original, start, end, subject or event.subject
                )
            )
    return found


@dataclass
class Subscription:
    """A Graph subscription on ``/users/{id}/events`` of one mailbox, owned by an app."""

    id: str
    client_id: str
    tenant_id: str
    mailbox: Mailbox
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    created: datetime = field(default_factory=_now)


@dataclass
class DeltaState:
    """What one state token stands for: a mailbox, the window fixed by the first call, what the client has seen."""

    mailbox: Mailbox
    lo: datetime
    hi: datetime
    seq: int
    known: dict[str, dict[str, str]]  # event id -> {instance id: fingerprint}
    last_round: list[dict] = field(default_factory=list)


@dataclass
class Round:
    """A round of delta pages being read: the items and the state its deltaLink will stand for."""

    mailbox_segment: str
    items: list[dict]
    offset: int
    page_size: int
    final: DeltaState


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    route: str
    mailbox: str | None
    status: int
    query: dict


@dataclass
class Delivery:
    """One POST the fake made to the project: a validation, a change notification or a lifecycle notification."""

    kind: str  # "validation", "notification", "lifecycle"
    url: str
    payload: dict | None
    status: int | None
    elapsed: float
    error: str | None = None


def http_transport(url: str, *, body: bytes, content_type: str, timeout: float) -> tuple[int, str]:
    """Deliver over real HTTP(S), as Graph does. Tests may swap in a transport that calls Django's test client."""
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(url, data=body, headers={"Content-Type": content_type}, timeout=timeout)
        return response.status_code, response.text


class FakeMicrosoft:
    """The fake identity platform and Graph: state, the Python API tests drive, and the HTTP server.

    Use as a context manager (or :meth:`start`/:meth:`stop`). Its addresses: :attr:`authority_host`
    (``MS_AUTHORITY_HOST``), :attr:`graph_endpoint` (``MS_GRAPH_ENDPOINT``), :attr:`ca_bundle` (``MS_CA_BUNDLE``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | str | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        tenant_domain: str = DEFAULT_TENANT_DOMAIN,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        auto_deliver: bool = False,
        seed: int = 0,
    ):
        import tempfile

        self.host, self._port = host, port
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="fake-microsoft-"))
        self.tls = ensure_tls(self.state_dir)
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[tuple[str, str], App] = {}
        self.add_tenant(tenant_id, tenant_domain)
        self.add_app(tenant_id, client_id, client_secret)
        self.multitenant_apps: dict[str, str] = {}  # client_id -> secret (personal calendars' delegated consent)
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.auto_deliver = auto_deliver
        self.transport = http_transport
        self.validation_timeout = VALIDATION_TIMEOUT
        self.notification_timeout = NOTIFICATION_TIMEOUT
        self.mailbox_concurrency = MAILBOX_CONCURRENCY
        self.latency = 0.0
        self._random = random.Random(seed)  # noqa: S311 - repeatable faults, not secrets
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.reset()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget mailboxes, events, subscriptions, tokens, faults and logs (tenants and apps stay)."""
        with self.lock:
            self.mailboxes: dict[str, Mailbox] = {}
            self.access_tokens: dict[str, tuple[App, datetime]] = {}
            self.subscriptions: dict[str, Subscription] = {}
            self.delta_states: dict[str, DeltaState] = {}
            self.rounds: dict[str, Round] = {}
            self.calls: list[Call] = []
            self.deliveries: list[Delivery] = []
            self.outbox: list[tuple[str, str, dict]] = []  # (kind, url, payload)
            self.dropped: list[dict] = []
            self.responses: list[dict] = []  # rooms' answers to organisers: accepted / declined, with comments
            self.throttles: list[dict] = []
            self.failures: dict[str, tuple[int, str]] = {}
            self.inflight: Counter[str] = Counter()
            self.max_inflight: Counter[str] = Counter()
            self.drop_rate = 0.0
            self.duplicates = 1
            self.shuffle = False
            self.replay_changes = False
            self.deliver_notifications_enabled = True
            # People's delegated grants (personal calendars): codes and refresh tokens of multi-tenant apps.
            self.codes: dict[str, dict] = {}
            self.refresh_grants: dict[str, dict] = {}
            self.consent_user = ""

    def start(self) -> FakeMicrosoft:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.certificate, self.tls.key)
        server = _TLSServer((self.host, self._port), _Handler, context)
        server.fake = self
        self._server = server
        self._stopping.clear()
        serve = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-microsoft", daemon=True
        )
        serve.start()
        deliver = threading.Thread(target=self._deliver_loop, name="fake-microsoft-notify", daemon=True)
        deliver.start()
        self._threads = [serve, deliver]
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeMicrosoft:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("start the fake first")
        return self._server.server_address[1]

    @property
    def authority_host(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def graph_endpoint(self) -> str:
        return f"https://{self.host}:{self.port}/v1.0"

    @property
    def ca_bundle(self) -> str:
        return str(self.tls.ca_bundle)

    def settings(self) -> dict[str, str]:
        """The project's settings that point at this fake."""
        return {
            "MS_AUTHORITY_HOST": self.authority_host,
            "MS_GRAPH_ENDPOINT": self.graph_endpoint,
            "MS_CA_BUNDLE": self.ca_bundle,
        }

    def credentials(self) -> dict[str, str]:
        """The default app's credentials, as a connection takes them."""
        return {"tenant_id": self.tenant_id, "client_id": self.client_id, "client_secret": self.client_secret}

    # --- directory -----------------------------------------------------------------------------------------------

    def add_tenant(self, tenant_id: str, domain: str) -> Tenant:
        with self.lock:
            self.tenants[tenant_id] = Tenant(tenant_id, domain)
            return self.tenants[tenant_id]

    def add_app(self, tenant_id: str, client_id: str, client_secret: str) -> App:
        with self.lock:
            app = App(tenant_id, client_id, client_secret)
            self.apps[(tenant_id, client_id)] = app
            return app

    def add_multitenant_app(self, client_id: str, client_secret: str) -> None:
        """The operator's multi-tenant app: people of any tenant may consent to it (delegated permissions)."""
        with self.lock:
            self.multitenant_apps[client_id] = client_secret

    def revoke_grant(self, address: str) -> int:
        """The person (or their admin) removes the app's consent: its refresh and access tokens stop working."""
        with self.lock:
            address = address.lower()
            gone = [rt for rt, grant in self.refresh_grants.items() if grant["user"] == address]
            for rt in gone:
                del self.refresh_grants[rt]
            self.access_tokens = {k: v for k, v in self.access_tokens.items() if v[0].user != address}
            return len(gone)

    def grants_of(self, address: str) -> int:
        with self.lock:
            return sum(1 for grant in self.refresh_grants.values() if grant["user"] == address.lower())

    def add_user(self, address: str, name: str, *, tenant_id: str | None = None) -> Mailbox:
        return self._add_mailbox(address, name, "user", tenant_id)

    def add_room(
        self,
        address: str,
        name: str,
        *,
        capacity: int | None = None,
        building: str | None = None,
        floor: int | None = None,
        auto_accept: bool = True,
        allow_conflicts: bool = False,
        rewrite_subject: bool = True,
        remove_cancelled: bool = True,
        tenant_id: str | None = None,
    ) -> Mailbox:
        mailbox = self._add_mailbox(address, name, "room", tenant_id)
        mailbox.capacity, mailbox.building, mailbox.floor = capacity, building, floor
        mailbox.auto_accept, mailbox.allow_conflicts = auto_accept, allow_conflicts
        mailbox.rewrite_subject, mailbox.remove_cancelled = rewrite_subject, remove_cancelled
        return mailbox

    def _add_mailbox(self, address: str, name: str, kind: str, tenant_id: str | None) -> Mailbox:
        with self.lock:
            mailbox = Mailbox(address=address, name=name, kind=kind, tenant_id=tenant_id or self.tenant_id)
            self.mailboxes[address.lower()] = mailbox
            return mailbox

    def mailbox(self, address: str) -> Mailbox:
        with self.lock:
            return self.mailboxes[address.lower()]

    # --- acting as people in Outlook ---------------------------------------------------------------------------

    def outlook_create(
        self,
        organizer: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        rooms: list[str] = (),
        attendees: list[str] = (),
        time_zone: str = "UTC",
        recurrence: dict | None = None,
        organizer_name: str | None = None,
    ) -> Event:
        """A person creates a meeting in Outlook, inviting ``rooms`` as resources; returns the organiser's event.

        ``organizer`` is a mailbox of the fake (it is created as a user if unknown). ``recurrence`` is Graph's
        ``patternedRecurrence``: ``{"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "numbered", "startDate": "2025-03-03", "numberOfOccurrences": 5}}``.
        """
        with self.lock:
            if organizer.lower() not in self.mailboxes:
                self.add_user(organizer, organizer_name or organizer.split("@")[0].title())
            mailbox = self.mailboxes[organizer.lower()]
            people = [self._attendee(address, "required") for address in attendees]
            resources = [self._attendee(address, "resource") for address in rooms]
            event = Event(
                id=_new_id(),
                ical_uid=_ical_uid(),
                mailbox=mailbox,
                subject=subject,
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                time_zone=time_zone,
                organizer=(mailbox.name, mailbox.address),
                attendees=people + resources,
                location="; ".join(r["name"] for r in resources),
                recurrence=self._normalise_recurrence(recurrence, start, time_zone),
            )
            self._store(event, "created")
            self._process_rooms(event)
            return event

    def outlook_move(self, organizer: str, event_id: str, *, start: datetime, end: datetime) -> Event:
        """The organiser moves a meeting (a whole series keeps its pattern and moves its time of day)."""
        with self.lock:
            event = self._event(self.mailbox(organizer), event_id)
            if event.is_series:
                shift = start - event.start
                event.recurrence["range"]["startDate"] = start.astimezone(zone(event.time_zone)).date().isoformat()
                event.exceptions = {os + shift: {**x} for os, x in event.exceptions.items()}
                event.cancelled = {os + shift for os in event.cancelled}
            event.start, event.end = start.astimezone(UTC), end.astimezone(UTC)
            self._store(event, "updated")
            self._process_rooms(event)
            return event

    def outlook_rename(self, organizer: str, event_id: str, *, subject: str) -> Event:
        with self.lock:
            event = self._event(self.mailbox(organizer), event_id)
            event.subject = subject
            self._store(event, "updated")
            self._process_rooms(event)
            return event

    def outlook_cancel(self, organizer: str, event_id: str) -> None:
        """The organiser cancels a meeting: it leaves their calendar, and the rooms' calendars."""
        with self.lock:
            event = self._event(self.mailbox(organizer), event_id)
            self._delete(event)
            self._process_rooms(event, cancelled=True)

    def outlook_move_occurrence(
        self, organizer: str, series_id: str, original_start: datetime, *, start: datetime, end: datetime
    ) -> str:
        """The organiser moves one occurrence of a series; returns the instance's id."""
        with self.lock:
            event = self._event(self.mailbox(organizer), series_id)
            original = self._original(event, original_start)
            event.exceptions[original] = {"start": start.astimezone(UTC), "end": end.astimezone(UTC)}
            self._store(event, "updated")
            self._process_rooms(event)
            return _occurrence_id(event.id, original)

    def outlook_cancel_occurrence(self, organizer: str, series_id: str, original_start: datetime) -> None:
        with self.lock:
            event = self._event(self.mailbox(organizer), series_id)
            original = self._original(event, original_start)
            event.cancelled.add(original)
            event.exceptions.pop(original, None)
            self._store(event, "updated")
            self._process_rooms(event)

    def seed_meetings(self, room: str, organizer: str, *, slots: list[tuple[datetime, datetime]]) -> list[Event]:
        """Accepted meetings at ``slots`` (start, end) on the room's calendar at once, without the room's
        per-meeting conflict check (quadratic with thousands of meetings): for benchmarks and large calendars.
        Returns the room copies."""
        with self.lock:
            if organizer.lower() not in self.mailboxes:
                self.add_user(organizer, organizer.split("@")[0].title())
            host, mailbox = self.mailbox(organizer), self.mailbox(room)
            copies = []
            for index, (start, end) in enumerate(slots):
                attendees = [self._attendee(room, "resource") | {"response": "accepted"}]
                event = Event(
                    id=_new_id(),
                    ical_uid=_ical_uid(),
                    mailbox=host,
                    subject=f"Meeting {index}",
                    start=start.astimezone(UTC),
                    end=end.astimezone(UTC),
                    time_zone="UTC",
                    organizer=(host.name, host.address),
                    attendees=attendees,
                    location=mailbox.name,
                )
                self._store(event, "created")
                copy = self._room_copy(mailbox, event, None)
                self._store(copy, "created")
                copies.append(copy)
            return copies

    def room_copy(self, room: str, ical_uid: str) -> Event | None:
        """The room's copy of a meeting, matched as the project must match it: by ``iCalUId``."""
        with self.lock:
            return next((e for e in self.mailbox(room).events.values() if e.ical_uid == ical_uid), None)

    def calendar_view(self, address: str, lo: datetime, hi: datetime) -> list[Instance]:
        """What the mailbox's calendar shows in ``[lo, hi)``, sorted by start."""
        with self.lock:
            found = [i for e in self.mailbox(address).events.values() for i in instances(e, lo, hi)]
            return sorted(found, key=lambda i: (i.start, i.id))

    def _attendee(self, address: str, kind: str) -> dict:
        known = self.mailboxes.get(address.lower())
        return {"address": address, "name": known.name if known else address, "type": kind, "response": "none"}

    def _normalise_recurrence(self, recurrence: dict | None, start: datetime, time_zone: str) -> dict | None:
        if not recurrence:
            return None
        recurrence = json.loads(json.dumps(recurrence))
        span = recurrence.setdefault("range", {"type": "noEnd"})
        span.setdefault("startDate", start.astimezone(zone(time_zone)).date().isoformat())
        span.setdefault("recurrenceTimeZone", time_zone)
        occurrence_starts(
            Event("x", "x", None, "", start, start, time_zone, ("", ""), [], recurrence=recurrence),  # validate
            start,
        )
        return recurrence

    def _original(self, event: Event, original_start: datetime) -> datetime:
        original = original_start.astimezone(UTC)
        if original not in occurrence_starts(event, original + timedelta(days=1)):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return original

    # --- the calendar store and Exchange's room processing ----------------------------------------------------

    def _event(self, mailbox: Mailbox, event_id: str) -> Event:
        event = mailbox.events.get(event_id)
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    def _store(self, event: Event, change_type: str) -> None:
        mailbox = event.mailbox
        mailbox.seq += 1
        event.seq = mailbox.seq
        event.modified = _now()
        mailbox.events[event.id] = event
        self._notify(mailbox, event.id, change_type)

    def _delete(self, event: Event) -> None:
        mailbox = event.mailbox
        if mailbox.events.pop(event.id, None) is not None:
            mailbox.seq += 1
            self._notify(mailbox, event.id, "deleted")

    def _room_instances(self, event: Event) -> list[Instance]:
        lo = _now() - timedelta(days=1)
        return instances(event, lo, lo + timedelta(days=400))

    def _conflicts(self, room: Mailbox, wanted: list[Instance], ical_uid: str) -> set[str]:
        """The ids of ``wanted`` instances that overlap another busy event of the room."""
        if not wanted:
            return set()
        lo, hi = min(i.start for i in wanted), max(i.end for i in wanted)
        busy = [
            i
            for e in room.events.values()
            if e.ical_uid != ical_uid
            and e.show_as != "free"
            and not e.is_cancelled
            and (e.is_series or _overlaps(e.start, e.end, lo, hi))  # a single event outside [lo, hi) cannot clash
            for i in instances(e, lo, hi)
        ]
        return {w.id for w in wanted if any(_overlaps(w.start, w.end, b.start, b.end) for b in busy)}

    def _process_rooms(self, event: Event, *, cancelled: bool = False) -> None:
        """Exchange's resource booking attendant: each room attendee accepts, declines or removes its copy."""
        for attendee in event.attendees:
            room = self.mailboxes.get(attendee["address"].lower())
            if attendee["type"] != "resource" or room is None or room.kind != "room" or not room.auto_accept:
                continue
            copy = next((e for e in room.events.values() if e.ical_uid == event.ical_uid), None)
            if cancelled or event.is_cancelled:
                if copy is not None:
                    if room.remove_cancelled:
                        self._delete(copy)
                    else:
                        copy.is_cancelled = True
                        copy.subject = f"Canceled: {copy.subject}"
                        self._store(copy, "updated")
                continue
            wanted = self._room_instances(event)
            conflicts = set() if room.allow_conflicts else self._conflicts(room, wanted, event.ical_uid)
            if conflicts and (copy is None or not event.is_series or len(conflicts) == len(wanted)):
                if copy is not None:
                    self._delete(copy)
                self._answer(event, attendee, "declined", "The room is busy at that time.")
                continue
            copy = self._room_copy(room, event, copy)
            for instance_id in conflicts:  # a series keeps its other occurrences
                original = _split_occurrence_id(instance_id)[1]
                copy.cancelled.add(original)
                copy.exceptions.pop(original, None)
                self._answer(event, attendee, "declined", "The room is busy at that time.", instance=instance_id)
            self._store(copy, "updated" if copy.seq else "created")
            self._answer(event, attendee, "accepted", "")

    def _room_copy(self, room: Mailbox, event: Event, copy: Event | None) -> Event:
        copy = copy or Event(
            id=_new_id(),
            ical_uid=event.ical_uid,
            mailbox=room,
            subject="",
            start=event.start,
            end=event.end,
            time_zone=event.time_zone,
            organizer=event.organizer,
            attendees=[],
            is_organizer=False,
            response="accepted",
        )
        copy.subject = event.organizer[0] if room.rewrite_subject else event.subject
        copy.start, copy.end, copy.time_zone = event.start, event.end, event.time_zone
        # An attendee's copy knows its own answer only; the organiser's copy tracks everyone's.
        copy.attendees = [
            {**a, "response": "accepted" if a["address"].lower() == room.address.lower() else "none"}
            for a in event.attendees
        ]
        copy.location = event.location
        copy.recurrence = json.loads(json.dumps(event.recurrence)) if event.recurrence else None
        copy.exceptions = {os: {k: v for k, v in x.items() if k != "subject"} for os, x in event.exceptions.items()}
        copy.cancelled = set(event.cancelled)
        copy.sensitivity, copy.show_as = event.sensitivity, event.show_as
        return copy

    def _answer(self, event: Event, attendee: dict, response: str, comment: str, *, instance: str | None = None):
        """Record a room's answer on the organiser's event (the organiser's mail) and in :attr:`responses`."""
        if instance is None:
            if attendee.get("response") == response and not comment:
                return
            attendee["response"] = response
            if event.mailbox.events.get(event.id) is event:
                self._store(event, "updated")
        self.responses.append(
            {
                "room": attendee["address"],
                "iCalUId": event.ical_uid,
                "organizer": event.organizer[1],
                "response": response,
                "comment": comment,
                "instance": instance,
                "at": _now(),
            }
        )

    # --- faults and knobs tests use ---------------------------------------------------------------------------

    def throttle(
        self,
        *,
        times: int = 1,
        retry_after: float = 1,
        mailbox: str | None = None,
        route: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching Graph requests with 429 and ``Retry-After`` (seconds)."""
        with self.lock:
            self.throttles.append(
                {
                    "times": times,
                    "retry_after": retry_after,
                    "mailbox": mailbox.lower() if mailbox else None,
                    "route": route,
                    "method": method,
                }
            )

    def fail_mailbox(self, address: str, *, status: int = 503, code: str = "ServiceUnavailable") -> None:
        """Every Graph request on this mailbox fails with ``status`` until :meth:`heal_mailbox`."""
        with self.lock:
            self.failures[address.lower()] = (status, code)

    def heal_mailbox(self, address: str) -> None:
        with self.lock:
            self.failures.pop(address.lower(), None)

    def drop_notifications(self, rate: float) -> None:
        """Lose this fraction of change notifications (seeded, so a test run is repeatable)."""
        with self.lock:
            self.drop_rate = rate

    def duplicate_notifications(self, times: int, *, shuffle: bool = True) -> None:
        """Send every change notification ``times`` times, in a shuffled order when :meth:`deliver` runs."""
        with self.lock:
            self.duplicates, self.shuffle = times, shuffle

    def expire_delta_tokens(self, address: str | None = None) -> int:
        """Forget delta state (all, or one mailbox's): the next use of a deltaLink is ``410 syncStateNotFound``."""
        with self.lock:
            doomed = [
                token
                for token, state in self.delta_states.items()
                if address is None or state.mailbox.address.lower() == address.lower()
            ]
            for token in doomed:
                del self.delta_states[token]
            self.rounds = {
                t: r
                for t, r in self.rounds.items()
                if address is not None and r.final.mailbox.address.lower() != address.lower()
            }
            return len(doomed)

    def expire_access_tokens(self) -> None:
        """Graph refuses every access token issued so far (``401 InvalidAuthenticationToken``)."""
        with self.lock:
            self.access_tokens.clear()

    def expire_subscription(self, subscription_id: str) -> None:
        """The subscription lapses silently (as one that was not renewed in time)."""
        with self.lock:
            self.subscriptions.pop(subscription_id, None)

    def send_lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification; ``subscriptionRemoved`` also removes the subscription."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"{event!r} is not one of {LIFECYCLE_EVENTS}")
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            if subscription.lifecycle_url:
                payload = {
                    "value": [
                        {
                            "subscriptionId": subscription.id,
                            "subscriptionExpirationDateTime": _iso(subscription.expiration),
                            "tenantId": subscription.tenant_id,
                            "clientState": subscription.client_state,
                            "lifecycleEvent": event,
                        }
                    ]
                }
                self.outbox.append(("lifecycle", subscription.lifecycle_url, payload))
            if event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]
        self._wake.set()

    def subscriptions_for(self, address: str) -> list[Subscription]:
        with self.lock:
            now = _now()
            return [
                s
                for s in self.subscriptions.values()
                if s.mailbox.address.lower() == address.lower() and s.expiration > now
            ]

    def count(self, route: str | None = None, *, mailbox: str | None = None, method: str | None = None) -> int:
        """How many requests the fake answered, by route name (e.g. ``"calendarView.delta"``) and mailbox."""
        with self.lock:
            return sum(
                1
                for c in self.calls
                if (route is None or c.route == route)
                and (mailbox is None or (c.mailbox or "").lower() == mailbox.lower())
                and (method is None or c.method == method)
            )

    def counts(self) -> Counter[str]:
        """Requests per route name."""
        with self.lock:
            return Counter(c.route for c in self.calls)

    # --- notifications ------------------------------------------------------------------------------------------

    def _notify(self, mailbox: Mailbox, event_id: str, change_type: str) -> None:
        now = _now()
        for subscription in list(self.subscriptions.values()):
            if subscription.mailbox is not mailbox or change_type not in subscription.change_types:
                continue
            if subscription.expiration <= now:
                continue
            resource = f"Users/{mailbox.id}/Events/{event_id}"
            item = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": _iso(subscription.expiration),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"{secrets.token_urlsafe(12)}"',
                    "id": event_id,
                },
                "clientState": subscription.client_state,
                "tenantId": subscription.tenant_id,
            }
            if self._random.random() < self.drop_rate:
                self.dropped.append(item)
                continue
            for _ in range(max(1, self.duplicates)):
                self.outbox.append(("notification", subscription.notification_url, {"value": [item]}))
        self._wake.set()

    def deliver(self) -> list[Delivery]:
        """POST every pending notification now, from the calling thread; returns what was delivered."""
        with self.lock:
            pending, self.outbox = self.outbox, []
            if self.shuffle:
                self._random.shuffle(pending)
        done = []
        for kind, url, payload in pending:
            done.append(self._post(kind, url, payload))
        return done

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            if self.auto_deliver and self.outbox:
                try:
                    self.deliver()
                except Exception:  # the loop must outlive a bad delivery
                    logger.exception("fake Microsoft: delivery failed")

    def _post(self, kind: str, url: str, payload: dict) -> Delivery:
        began = time.monotonic()
        try:
            status, _text = self.transport(
                url,
                body=json.dumps(payload).encode(),
                content_type="application/json; charset=utf-8",
                timeout=self.notification_timeout,
            )
            delivery = Delivery(kind, url, payload, status, time.monotonic() - began)
        except Exception as error:  # a timeout or a refused connection is what Graph would see too
            delivery = Delivery(kind, url, payload, None, time.monotonic() - began, repr(error))
        with self.lock:
            self.deliveries.append(delivery)
        return delivery

    def _validate_endpoint(self, url: str) -> str | None:
        """Graph's handshake: POST ``url?validationToken=...``; the endpoint must echo it in 10 s."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = f"{url}{'&' if '?' in url else '?'}{urlencode({'validationToken': token}, quote_via=quote)}"
        began = time.monotonic()
        try:
            status, text = self.transport(
                target, body=b"", content_type="text/plain; charset=utf-8", timeout=self.validation_timeout
            )
        except Exception as error:
            self.deliveries.append(Delivery("validation", url, None, None, time.monotonic() - began, repr(error)))
            return f"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. ({error.__class__.__name__})"  # noqa: E501
        elapsed = time.monotonic() - began
        self.deliveries.append(Delivery("validation", url, None, status, elapsed))
        if status != 200 or text != token or elapsed > self.validation_timeout:
            return (
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                f"validation request (answered {status} in {elapsed:.1f} s)."
            )
        return None

    # --- HTTP dispatch -----------------------------------------------------------------------------------------

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        """Answer one request: ``(status, headers, body)``."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request_id = str(uuid.uuid4())
        base_headers = {"request-id": request_id, "client-request-id": headers.get("client-request-id", request_id)}
        call = Call(method, path, "unknown", None, 0, query)
        try:
            if path.startswith("/v1.0/") or path == "/v1.0":
                status, extra, payload = self._graph(method, path[len("/v1.0") :], query, headers, body, call)
            else:
                status, extra, payload = self._identity(method, path, query, headers, body, call)
        except GraphError as error:
            status, extra = error.status, error.headers
            payload = {
                "error": {
                    "code": error.code,
                    "message": error.message,
                    "innerError": {"date": _now().strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id},
                }
            }
        except IdentityError as error:
            status, extra = error.status, {}
            payload = {
                "error": error.error,
                "error_description": f"{error.description}\r\nTrace ID: {request_id}\r\nTimestamp: {_iso(_now())}",
                "error_codes": error.codes,
                "timestamp": _now().strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": request_id,
            }
        call.status = status
        with self.lock:
            self.calls.append(call)
        out = {**base_headers, **extra}
        if payload is None:
            return status, out, b""
        if isinstance(payload, str):
            out.setdefault("Content-Type", "text/plain; charset=utf-8")
            return status, out, payload.encode()
        out.setdefault("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8")
        return status, out, json.dumps(payload).encode()

    # --- identity platform --------------------------------------------------------------------------------------

    def _tenant(self, segment: str) -> Tenant:
        tenant = self.tenants.get(segment) or next(
            (t for t in self.tenants.values() if t.domain.lower() == segment.lower()), None
        )
        if tenant is None:
            raise IdentityError(
                400,
                "invalid_tenant",
                f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
                [90002],
            )
        return tenant

    def _identity(self, method, path, query, headers, body, call: Call):
        segments = path.strip("/").split("/")
        if method == "GET" and path == "/common/discovery/instance":
            call.route = "instance-discovery"
            authority = urlsplit(query.get("authorization_endpoint", ""))
            tenant = authority.path.strip("/").split("/")[0] if authority.path else "common"
            return (
                200,
                {},
                {
                    "tenant_discovery_endpoint": (
                        f"{self.authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
                    ),
                    "api-version": "1.1",
                    "metadata": [
                        {
                            "preferred_network": f"{self.host}:{self.port}",
                            "preferred_cache": f"{self.host}:{self.port}",
                            "aliases": [f"{self.host}:{self.port}"],
                        }
                    ],
                },
            )
        if method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            call.route = "openid-configuration"
            if segments[0] in {"organizations", "common"}:
                tenant = Tenant(segments[0], segments[0])
            else:
                tenant = self._tenant(segments[0])
            base = f"{self.authority_host}/{tenant.id}"
            return (
                200,
                {},
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "private_key_jwt",
                        "client_secret_basic",
                    ],  # noqa: E501
                    "jwks_uri": f"{self.authority_host}/{tenant.id}/discovery/v2.0/keys",
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                    "issuer": f"{base}/v2.0",
                    "request_uri_parameter_supported": False,
                    "userinfo_endpoint": f"{self.graph_endpoint}/oidc/userinfo",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "http_logout_supported": True,
                    "frontchannel_logout_supported": True,
                    "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                    "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver", "oid"],
                    "kerberos_endpoint": f"{base}/kerberos",
                    "tenant_region_scope": "EU",
                    "cloud_instance_name": "microsoftonline.com",
                    "cloud_graph_host_name": "graph.windows.net",
                    "msgraph_host": urlsplit(self.graph_endpoint).netloc,
                    "rbac_url": "https://pas.windows.net",
                },
            )
        if method == "GET" and segments[1:] == ["oauth2", "v2.0", "authorize"]:
            call.route = "authorize"
            return self._authorize(query)
        if method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            call.route = "token"
            form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            if form.get("grant_type") in {"authorization_code", "refresh_token"}:
                return 200, {"Cache-Control": "no-store, no-cache"}, self._delegated_token(form, headers)
            return 200, {"Cache-Control": "no-store, no-cache"}, self._token(segments[0], headers, body)
        raise GraphError(404, "NotFound", f"{method} {path} is not served by the fake identity platform.")

    # delegated consent (authorization code with PKCE) for the operator's multi-tenant app

    def _authorize(self, query: dict):
        from html import escape

        client_id = query.get("client_id", "")
        if client_id not in self.multitenant_apps:
            raise IdentityError(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found.",
                [700016],
            )
        if query.get("response_type") != "code" or not query.get("redirect_uri"):
            raise IdentityError(400, "invalid_request", "AADSTS900144: The request body must contain code.", [900144])
        user = (query.get("login_hint") or self.consent_user or "").lower()
        mailbox = self.mailboxes.get(user)
        if mailbox is None or mailbox.kind != "user":
            fields = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                for k, v in query.items()
                if k != "login_hint"
            )
            page = (
                '<!doctype html><title>Sign in to your account (fake)</title><link rel="icon" href="data:,">'
                "<h1>Pick an account</h1>"
                f'<form method="get">{fields}<label>Email <input name="login_hint" type="email"></label>'
                '<button type="submit">Accept</button></form>'
            )
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        code = "0.fake-" + secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = {
                "user": mailbox.address.lower(),
                "tenant": mailbox.tenant_id,
                "client": client_id,
                "redirect_uri": query["redirect_uri"],
                "scopes": query.get("scope", ""),
                "challenge": query.get("code_challenge", ""),
                "method": query.get("code_challenge_method", "plain"),
                "nonce": query.get("nonce", ""),
                "expires": _now() + timedelta(minutes=10),
            }
        answer = {"code": code, "session_state": str(uuid.uuid4())}
        if "state" in query:
            answer["state"] = query["state"]
        if query.get("response_mode") == "form_post":
            # As the identity platform does: a page whose form posts the answer to the redirect URI at once.
            fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in answer.items())
            page = (
                '<!doctype html><html><head><title>Working...</title><link rel="icon" href="data:,"></head>'
                '<body onload="document.forms[0].submit()">'
                f'<form method="POST" name="hiddenform" action="{escape(query["redirect_uri"])}">{fields}'
                "<noscript><p>Script is disabled. Click Submit to continue.</p>"
                '<input type="submit" value="Submit"></noscript></form></body></html>'
            )
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        sep = "&" if "?" in query["redirect_uri"] else "?"
        return 302, {"Location": f"{query['redirect_uri']}{sep}{urlencode(answer)}"}, None

    def _delegated_token(self, form: dict, headers: dict) -> dict:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        expected = self.multitenant_apps.get(client_id)
        if expected is None or not secret or not secrets.compare_digest(secret, expected):
            raise IdentityError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.", [7000215])
        with self.lock:
            if form["grant_type"] == "authorization_code":
                grant = self.codes.pop(form.get("code", ""), None)
                if grant is None or grant["expires"] < _now() or grant["client"] != client_id:
                    raise IdentityError(
                        400, "invalid_grant", "AADSTS70008: The provided authorization code is invalid.", [70008]
                    )
                if grant["redirect_uri"] != form.get("redirect_uri"):
                    raise IdentityError(400, "invalid_grant", "AADSTS50148: The redirect_uri does not match.", [50148])
                verifier = form.get("code_verifier", "")
                if grant["challenge"]:
                    digest = hashlib.sha256(verifier.encode()).digest()
                    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                    if grant["method"] != "S256":
                        computed = verifier
                    if not secrets.compare_digest(computed, grant["challenge"]):
                        raise IdentityError(
                            400, "invalid_grant", "AADSTS501481: The Code_Verifier does not match.", [501481]
                        )
            else:
                grant = self.refresh_grants.get(form.get("refresh_token", ""))
                if grant is None or grant["client"] != client_id:
                    raise IdentityError(
                        400,
                        "invalid_grant",
                        "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token "
                        "is needed.",
                        [50173],
                    )
                grant = {**grant, "nonce": ""}
            user, tenant_id = grant["user"], grant["tenant"]
            app = App(tenant_id, client_id, "", {"Calendars.ReadWrite"}, user=user)
            token = "fake-at." + secrets.token_urlsafe(32)
            self.access_tokens[token] = (app, _now() + timedelta(seconds=ACCESS_TOKEN_LIFETIME))
            refresh = "0.fake-rt-" + secrets.token_urlsafe(40)
            self.refresh_grants[refresh] = {
                "user": user,
                "tenant": tenant_id,
                "client": client_id,
                "scopes": grant["scopes"],
            }
        mailbox = self.mailboxes.get(user)
        now = int(time.time())
        claims = {
            "aud": client_id,
            "iss": f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": mailbox.name if mailbox else user,
            "oid": mailbox.id if mailbox else "",
            "preferred_username": user,
            "sub": hashlib.sha256(f"{user}|{client_id}".encode()).hexdigest()[:43],
            "tid": tenant_id,
            "ver": "2.0",
        }
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        uid = claims["oid"] or claims["sub"]
        scopes = " ".join(s for s in grant["scopes"].split() if s not in {"openid", "profile", "offline_access"})
        return {
            "token_type": "Bearer",
            "scope": scopes or "Calendars.ReadWrite",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": token,
            "refresh_token": refresh,
            "id_token": f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.",
            "client_info": part({"uid": uid, "utid": tenant_id}),
        }

    def _token(self, tenant_segment: str, headers: dict, body: bytes) -> dict:
        tenant = self._tenant(tenant_segment)
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            raise IdentityError(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.", [70003]
            )
        if form.get("scope", "").split() != [GRAPH_SCOPE]:
            raise IdentityError(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope')} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier.",
                [1002012],
            )
        with self.lock:
            app = self.apps.get((tenant.id, client_id or ""))
            if app is None:
                raise IdentityError(
                    400,
                    "unauthorized_client",
                    f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                    f"'{tenant.domain}'.",
                    [700016],
                )
            if not secret or not secrets.compare_digest(secret, app.client_secret):
                raise IdentityError(
                    401,
                    "invalid_client",
                    f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is "
                    f"the client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
                    [7000215],
                )
            token = "fake-at." + secrets.token_urlsafe(32)
            self.access_tokens[token] = (app, _now() + timedelta(seconds=ACCESS_TOKEN_LIFETIME))
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": token,
        }

    # --- Graph -------------------------------------------------------------------------------------------------

    _ROUTES = [
        ("GET", r"/users/(?P<mbx>[^/]+)/calendarview/delta", "calendarView.delta"),
        ("GET", r"/users/(?P<mbx>[^/]+)/calendarview", "calendarView"),
        ("GET", r"/users/(?P<mbx>[^/]+)/events", "events.list"),
        ("POST", r"/users/(?P<mbx>[^/]+)/events", "events.create"),
        ("GET", r"/users/(?P<mbx>[^/]+)/events/(?P<eid>[^/]+)/instances", "events.instances"),
        (
            "POST",
            r"/users/(?P<mbx>[^/]+)/events/(?P<eid>[^/]+)/(?P<action>accept|decline|tentativelyaccept|cancel)",
            "events.respond",
        ),  # fmt: skip
        ("GET", r"/users/(?P<mbx>[^/]+)/events/(?P<eid>[^/]+)", "events.get"),
        ("PATCH", r"/users/(?P<mbx>[^/]+)/events/(?P<eid>[^/]+)", "events.update"),
        ("DELETE", r"/users/(?P<mbx>[^/]+)/events/(?P<eid>[^/]+)", "events.delete"),
        ("GET", r"/users/(?P<mbx>[^/]+)", "users.get"),
        ("GET", r"/places/microsoft\.graph\.room", "places.rooms"),
        ("POST", r"/subscriptions", "subscriptions.create"),
        ("GET", r"/subscriptions/(?P<sid>[^/]+)", "subscriptions.get"),
        ("PATCH", r"/subscriptions/(?P<sid>[^/]+)", "subscriptions.update"),
        ("DELETE", r"/subscriptions/(?P<sid>[^/]+)", "subscriptions.delete"),
        ("POST", r"/subscriptions/(?P<sid>[^/]+)/reauthorize", "subscriptions.reauthorize"),
    ]
    _COMPILED = [(m, re.compile(p + r"$", re.IGNORECASE), name) for m, p, name in _ROUTES]

    def _graph(self, method, path, query, headers, body, call: Call):
        for route_method, pattern, route in self._COMPILED:
            match = pattern.match(path)
            if match and route_method == method:
                name = route
                break
        else:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/')}'.")
        call.route = name
        params = {k: v for k, v in match.groupdict().items() if v is not None}
        if "mbx" in params:
            params["mbx"] = requests.utils.unquote(params["mbx"])
            call.mailbox = params["mbx"]
        if "eid" in params:  # an id percent-encoded in the path (occurrence ids end in "=") means itself
            params["eid"] = requests.utils.unquote(params["eid"])
        app = self._authenticate(headers)
        mailbox_key = params.get("mbx", "").lower()
        self._throttled(mailbox_key, name, method)
        counted = False
        with self.lock:
            if mailbox_key:
                mailbox = self._resolve_mailbox(app, params["mbx"])
                mailbox_key = mailbox.address.lower()
                call.mailbox = mailbox.address
                if mailbox_key in self.failures:
                    status, code = self.failures[mailbox_key]
                    raise GraphError(status, code, f"The mailbox {mailbox.address} is unavailable.")
                self.inflight[mailbox_key] += 1
                if self.inflight[mailbox_key] > self.mailbox_concurrency:
                    self.inflight[mailbox_key] -= 1
                    raise GraphError(
                        429,
                        "ApplicationThrottled",
                        "Application is over its MailboxConcurrency limit.",
                        {"Retry-After": "1"},
                    )
                self.max_inflight[mailbox_key] = max(self.max_inflight[mailbox_key], self.inflight[mailbox_key])
                counted = True
        try:
            if self.latency:
                time.sleep(self.latency)
            handler = getattr(self, "_graph_" + name.replace(".", "_"))
            prefer = _parse_prefer(headers.get("prefer", ""))
            try:
                payload = json.loads(body.decode() or "null") if body else None
            except ValueError:
                raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
            with self.lock:
                if "mbx" in params:
                    params["mailbox"] = self._resolve_mailbox(app, params["mbx"])
                result = handler(app=app, query=query, prefer=prefer, payload=payload, **params)
            extra = {}
            applied = [f"odata.maxpagesize={prefer['odata.maxpagesize']}"] if "odata.maxpagesize" in prefer else []
            if "outlook.timezone" in prefer:
                applied.append(f'outlook.timezone="{prefer["outlook.timezone"]}"')
            if applied:
                extra["Preference-Applied"] = ", ".join(applied)
            status, payload = result
            return status, extra, payload
        finally:
            if counted:
                with self.lock:
                    self.inflight[mailbox_key] -= 1

    def _authenticate(self, headers: dict) -> App:
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self.lock:
            found = self.access_tokens.get(authorization[7:].strip())
        if found is None:
            raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        app, expires = found
        if expires <= _now():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        return app

    def _throttled(self, mailbox_key: str, route: str, method: str) -> None:
        with self.lock:
            for rule in self.throttles:
                if rule["times"] <= 0:
                    continue
                if rule["mailbox"] and rule["mailbox"] != mailbox_key:
                    continue
                if (rule["route"] and rule["route"] != route) or (rule["method"] and rule["method"] != method):
                    continue
                rule["times"] -= 1
                retry = rule["retry_after"]
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": str(int(retry)) if float(retry).is_integer() else str(retry)},
                )

    def _resolve_mailbox(self, app: App, segment: str) -> Mailbox:
        mailbox = self.mailboxes.get(segment.lower()) or next(
            (m for m in self.mailboxes.values() if m.id == segment.lower()), None
        )
        if mailbox is None or mailbox.tenant_id != app.tenant_id:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
        if app.user and mailbox.address.lower() != app.user:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return mailbox

    def _require(self, app: App, permission: str) -> None:
        if permission not in app.permissions:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    # users, places

    def _graph_users_get(self, *, app, mailbox: Mailbox, **_):
        return 200, {
            "id": mailbox.id,
            "displayName": mailbox.name,
            "mail": mailbox.address,
            "userPrincipalName": mailbox.address,
        }

    def _graph_places_rooms(self, *, app, query, **_):
        self._require(app, "Place.Read.All")
        rooms = sorted(
            (m for m in self.mailboxes.values() if m.kind == "room" and m.tenant_id == app.tenant_id),
            key=lambda m: m.address,
        )
        top = int(query.get("$top") or 100)
        skip = int(query.get("$skip") or 0)
        page = rooms[skip : skip + top]
        result = {
            "@odata.context": f"{self.graph_endpoint}/$metadata#places/microsoft.graph.room",
            "value": [
                {
                    "id": m.id,
                    "emailAddress": m.address,
                    "displayName": m.name,
                    "capacity": m.capacity,
                    "building": m.building,
                    "floorNumber": m.floor,
                    "floorLabel": None if m.floor is None else str(m.floor),
                    "bookingType": "standard",
                    "isWheelChairAccessible": False,
                    "tags": [],
                }
                for m in page
            ],
        }
        if skip + top < len(rooms):
            result["@odata.nextLink"] = (
                f"{self.graph_endpoint}/places/microsoft.graph.room?$top={top}&$skip={skip + top}"
            )
        return 200, result

    # events: rendering

    def render(self, item: Event | Instance, tz: ZoneInfo, expand: str | None = None) -> dict:
        """An event or an instance as Graph shows it."""
        if isinstance(item, Instance):
            event, instance = item.event, item
        else:
            event, instance = item, None
        kind = instance.type if instance else ("seriesMaster" if event.is_series else "singleInstance")
        start, end = (instance.start, instance.end) if instance else (event.start, event.end)
        change_key = base64.b64encode(
            hashlib.sha1(
                (instance.fingerprint() if instance else f"{event.id}:{event.seq}").encode(), usedforsecurity=False
            ).digest()
        ).decode()
        organizer_name, organizer_address = event.organizer
        result = {
            "@odata.etag": f'W/"{change_key}"',
            "id": instance.id if instance else event.id,
            "createdDateTime": _iso(event.created),
            "lastModifiedDateTime": _iso(event.modified),
            "changeKey": change_key,
            "categories": [],
            "transactionId": event.transaction_id,
            "originalStartTimeZone": event.time_zone,
            "originalEndTimeZone": event.time_zone,
            "iCalUId": event.ical_uid,
            "uid": event.ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": event.is_organizer,
            "hasAttachments": False,
            "subject": instance.subject if instance else event.subject,
            "bodyPreview": event.body[:255],
            "importance": "normal",
            "sensitivity": event.sensitivity,
            "isAllDay": False,
            "isCancelled": event.is_cancelled,
            "isOrganizer": event.is_organizer,
            "responseRequested": True,
            "seriesMasterId": event.id if instance and instance.type != "singleInstance" else None,
            "showAs": event.show_as,
            "type": kind,
            "webLink": f"https://outlook.office365.com/owa/?itemid={quote(instance.id if instance else event.id)}",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "recurrence": event.recurrence if kind == "seriesMaster" else None,
            "responseStatus": {
                "response": event.response,
                "time": "0001-01-01T00:00:00Z" if event.is_organizer else _iso(event.modified),
            },
            "body": {"contentType": "html", "content": event.body},
            "start": graph_datetime(start, tz),
            "end": graph_datetime(end, tz),
            "location": {
                "displayName": event.location,
                "locationType": "default",
                "uniqueIdType": "unknown" if event.location else "unknown",
            },
            "locations": [{"displayName": event.location, "locationType": "default"}] if event.location else [],
            "attendees": [
                {
                    "type": a["type"],
                    "status": {"response": a.get("response", "none"), "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": a["name"], "address": a["address"]},
                }
                for a in event.attendees
            ],
            "organizer": {"emailAddress": {"name": organizer_name, "address": organizer_address}},
        }
        if instance and instance.original_start is not None:
            result["originalStart"] = _iso(instance.original_start)
        if expand:
            wanted = _expand_ids(expand)
            found = [
                {"id": pid, "value": value}
                for key, (pid, value) in event.extended.items()
                if wanted is None or key in wanted
            ]
            if found:
                result["singleValueExtendedProperties"] = found
        return result

    # events: delta

    def _graph_calendarView_delta(self, *, app, mailbox: Mailbox, mbx: str, query, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        tz = zone(prefer.get("outlook.timezone"))
        page_size = min(MAX_PAGE_SIZE, max(1, int(prefer.get("odata.maxpagesize", DEFAULT_PAGE_SIZE))))
        for unsupported in ("$filter", "$select", "$orderby", "$expand", "$search"):
            if unsupported in query:
                raise GraphError(400, "ErrorInvalidUrlQuery", f"The query parameter '{unsupported}' is invalid.")
        if "$skiptoken" in query:
            token = query["$skiptoken"]
            found = self.rounds.pop(token, None)
            if found is None or found.final.mailbox is not mailbox:
                raise GraphError(410, "syncStateNotFound", "The sync state generation is not found.")
            return 200, self._delta_page(found, tz)
        if "$deltatoken" in query:
            token = query["$deltatoken"]
            state = self.delta_states.get(token)
            if state is None or state.mailbox is not mailbox:
                raise GraphError(410, "syncStateNotFound", "The sync state generation is not found.")
            for name, value in (("startDateTime", state.lo), ("endDateTime", state.hi)):
                if (
                    name.lower() in {k.lower() for k in query}
                    and _parse_query_datetime(next(v for k, v in query.items() if k.lower() == name.lower()), name)
                    != value
                ):
                    raise GraphError(400, "ErrorInvalidParameter", f"{name} does not match the delta token's window.")
            items, final = self._delta_changes(state)
        else:
            lowered = {k.lower(): v for k, v in query.items()}
            lo = _parse_query_datetime(lowered.get("startdatetime"), "startDateTime")
            hi = _parse_query_datetime(lowered.get("enddatetime"), "endDateTime")
            if hi <= lo:
                raise GraphError(400, "ErrorInvalidParameter", "endDateTime must be after startDateTime.")
            state = DeltaState(mailbox, lo, hi, 0, {})
            items, final = self._delta_changes(state, full=True)
        round_ = Round(mbx, items, 0, page_size, final)
        return 200, self._delta_page(round_, tz)

    def _delta_changes(self, state: DeltaState, *, full: bool = False) -> tuple[list[tuple], DeltaState]:
        """The changes since ``state``, as (kind, instance-or-id) pairs, and the state after them."""
        mailbox = state.mailbox
        known = {eid: dict(found) for eid, found in state.known.items()}
        items: list[tuple] = []
        for event in mailbox.events.values():
            if not full and event.seq <= state.seq:
                continue
            current = {i.id: i for i in instances(event, state.lo, state.hi)}
            previous = known.get(event.id, {})
            for instance_id, instance in current.items():
                if previous.get(instance_id) != instance.fingerprint():
                    items.append(("item", instance))
            items.extend(("removed", instance_id) for instance_id in previous if instance_id not in current)
            if current:
                known[event.id] = {i.id: i.fingerprint() for i in current.values()}
            else:
                known.pop(event.id, None)
        for event_id in [e for e in known if e not in mailbox.events]:
            items.extend(("removed", instance_id) for instance_id in known.pop(event_id))
        if self.replay_changes and not full:
            # Graph may send a change again: last round's items that did not change since, and this round's twice.
            fresh = {x[1].id if x[0] == "item" else x[1] for x in items}
            replays = list(
                {(x[1].id if x[0] == "item" else x[1]): x for x in state.last_round if x not in items}.values()
            )
            replays = [x for x in replays if (x[1].id if x[0] == "item" else x[1]) not in fresh]
            items = [*items, *replays, *items]
        items.sort(key=lambda x: (x[0] == "removed", x[1].start, x[1].id) if x[0] == "item" else (True, state.lo, x[1]))
        final = DeltaState(mailbox, state.lo, state.hi, mailbox.seq, known, last_round=list(items))
        return items, final

    def _delta_page(self, round_: Round, tz: ZoneInfo) -> dict:
        page = round_.items[round_.offset : round_.offset + round_.page_size]
        value = []
        for kind, item in page:
            if kind == "removed":
                value.append({"@odata.type": "#microsoft.graph.event", "id": item, "@removed": {"reason": "deleted"}})
            else:
                value.append({"@odata.type": "#microsoft.graph.event", **self.render(item, tz)})
        base = f"{self.graph_endpoint}/users/{quote(round_.mailbox_segment, safe='@')}/calendarView/delta"
        result = {"@odata.context": f"{self.graph_endpoint}/$metadata#Collection(event)", "value": value}
        if round_.offset + round_.page_size < len(round_.items):
            token = secrets.token_urlsafe(24)
            self.rounds[token] = Round(
                round_.mailbox_segment, round_.items, round_.offset + round_.page_size, round_.page_size, round_.final
            )
            result["@odata.nextLink"] = f"{base}?$skiptoken={token}"
        else:
            token = secrets.token_urlsafe(24)
            self.delta_states[token] = round_.final
            result["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return result

    # events: reads

    def _graph_calendarView(self, *, app, mailbox: Mailbox, mbx: str, query, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        lowered = {k.lower(): v for k, v in query.items()}
        lo = _parse_query_datetime(lowered.get("startdatetime"), "startDateTime")
        hi = _parse_query_datetime(lowered.get("enddatetime"), "endDateTime")
        found = sorted(
            (i for e in mailbox.events.values() for i in instances(e, lo, hi)), key=lambda i: (i.start, i.id)
        )
        return 200, self._list_page(found, query, prefer, f"users/{mbx}/calendarView")

    def _graph_events_list(self, *, app, mailbox: Mailbox, mbx: str, query, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        found = sorted(mailbox.events.values(), key=lambda e: (e.start, e.id))
        wanted = query.get("$filter")
        if wanted:
            found = [e for e in found if _event_filter(wanted)(e)]
        return 200, self._list_page(found, query, prefer, f"users/{mbx}/events")

    def _list_page(self, found: list, query: dict, prefer: dict, path: str) -> dict:
        tz = zone(prefer.get("outlook.timezone"))
        top = int(query.get("$top") or prefer.get("odata.maxpagesize") or DEFAULT_PAGE_SIZE)
        skip = int(query.get("$skip") or 0)
        page = found[skip : skip + top]
        result = {"value": [self.render(x, tz, query.get("$expand")) for x in page]}
        if skip + top < len(found):
            rest = {k: v for k, v in query.items() if k not in {"$skip", "$top"}}
            rest.update({"$top": top, "$skip": skip + top})
            result["@odata.nextLink"] = f"{self.graph_endpoint}/{path}?{urlencode(rest, quote_via=quote)}"
        return result

    def _find(self, mailbox: Mailbox, event_id: str) -> Event | Instance:
        if event_id in mailbox.events:
            return mailbox.events[event_id]
        split = _split_occurrence_id(event_id)
        if split and split[0] in mailbox.events:
            master = mailbox.events[split[0]]
            original = split[1]
            if original not in master.cancelled:
                override = master.exceptions.get(original)
                for instance in instances(
                    master,
                    min(original, override["start"] if override else original) - timedelta(seconds=1),
                    max(original, override["end"] if override else original) + (master.end - master.start),
                ):
                    if instance.id == event_id:
                        return instance
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _graph_events_get(self, *, app, mailbox: Mailbox, eid: str, query, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        return 200, self.render(self._find(mailbox, eid), zone(prefer.get("outlook.timezone")), query.get("$expand"))

    def _graph_events_instances(self, *, app, mailbox: Mailbox, mbx: str, eid: str, query, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        event = self._event(mailbox, eid)
        lowered = {k.lower(): v for k, v in query.items()}
        lo = _parse_query_datetime(lowered.get("startdatetime"), "startDateTime")
        hi = _parse_query_datetime(lowered.get("enddatetime"), "endDateTime")
        return 200, self._list_page(instances(event, lo, hi), query, prefer, f"users/{mbx}/events/{eid}/instances")

    # events: writes

    def _graph_events_create(self, *, app, mailbox: Mailbox, payload, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        if not isinstance(payload, dict):
            raise GraphError(400, "ErrorInvalidRequest", "The request body must be an event.")
        transaction_id = payload.get("transactionId")
        if transaction_id and transaction_id in mailbox.transactions:
            existing = mailbox.events.get(mailbox.transactions[transaction_id])
            if existing is not None:
                return 201, self.render(existing, zone(prefer.get("outlook.timezone")))
        start = _parse_graph_datetime(payload.get("start"), "start")
        end = _parse_graph_datetime(payload.get("end"), "end")
        if end < start:
            raise GraphError(400, "ErrorInvalidRequest", "The end of the event must be after its start.")
        time_zone = (payload.get("start") or {}).get("timeZone") or "UTC"
        event = Event(
            id=_new_id(),
            ical_uid=_ical_uid(),
            mailbox=mailbox,
            subject=str(payload.get("subject") or ""),
            start=start,
            end=end,
            time_zone=time_zone,
            organizer=(mailbox.name, mailbox.address),
            attendees=self._parse_attendees(payload.get("attendees")),
            location=str((payload.get("location") or {}).get("displayName") or ""),
            body=str((payload.get("body") or {}).get("content") or ""),
            transaction_id=transaction_id,
            sensitivity=payload.get("sensitivity") or "normal",
            show_as=payload.get("showAs") or "busy",
            recurrence=self._normalise_recurrence(payload.get("recurrence"), start, time_zone),
        )
        self._set_extended(event, payload.get("singleValueExtendedProperties"))
        if transaction_id:
            mailbox.transactions[transaction_id] = event.id
        self._store(event, "created")
        self._process_rooms(event)
        return 201, self.render(event, zone(prefer.get("outlook.timezone")))

    def _parse_attendees(self, attendees) -> list[dict]:
        parsed = []
        for attendee in attendees or []:
            address = ((attendee or {}).get("emailAddress") or {}).get("address")
            if not address:
                raise GraphError(400, "ErrorInvalidRecipients", "An attendee has no email address.")
            entry = self._attendee(address, (attendee.get("type") or "required").lower())
            entry["name"] = attendee["emailAddress"].get("name") or entry["name"]
            parsed.append(entry)
        return parsed

    def _set_extended(self, event: Event, properties) -> None:
        for prop in properties or []:
            pid, value = (prop or {}).get("id"), (prop or {}).get("value")
            if not pid or not re.match(r"^String \{[0-9a-fA-F-]{36}\} Name \S+$", pid):
                raise GraphError(400, "ErrorInvalidProperty", f"The extended property id {pid!r} is not valid.")
            event.extended[pid.lower()] = (pid, str(value))

    def _graph_events_update(self, *, app, mailbox: Mailbox, eid: str, payload, prefer, **_):
        self._require(app, "Calendars.ReadWrite")
        payload = payload or {}
        found = self._find(mailbox, eid)
        tz = zone(prefer.get("outlook.timezone"))
        if isinstance(found, Instance):
            event = found.event
            if {"start", "end"} & payload.keys():
                start = _parse_graph_datetime(payload.get("start"), "start") if "start" in payload else found.start
                end = _parse_graph_datetime(payload.get("end"), "end") if "end" in payload else found.end
                event.exceptions[found.original_start] = {"start": start, "end": end}
            if "subject" in payload:
                event.exceptions.setdefault(found.original_start, {"start": found.start, "end": found.end})
                event.exceptions[found.original_start]["subject"] = str(payload["subject"])
            self._store(event, "updated")
            if event.is_organizer:
                self._process_rooms(event)
            return 200, self.render(self._find(mailbox, eid), tz)
        event = found
        if "subject" in payload:
            event.subject = str(payload["subject"] or "")
        if "start" in payload:
            event.start = _parse_graph_datetime(payload["start"], "start")
            event.time_zone = payload["start"].get("timeZone") or event.time_zone
        if "end" in payload:
            event.end = _parse_graph_datetime(payload["end"], "end")
        if event.end < event.start:
            raise GraphError(400, "ErrorInvalidRequest", "The end of the event must be after its start.")
        if "location" in payload:
            event.location = str((payload["location"] or {}).get("displayName") or "")
        if "body" in payload:
            event.body = str((payload["body"] or {}).get("content") or "")
        if "attendees" in payload:
            event.attendees = self._parse_attendees(payload["attendees"])
        if "showAs" in payload:
            event.show_as = payload["showAs"]
        if "sensitivity" in payload:
            event.sensitivity = payload["sensitivity"]
        if "recurrence" in payload:
            event.recurrence = self._normalise_recurrence(payload["recurrence"], event.start, event.time_zone)
        self._set_extended(event, payload.get("singleValueExtendedProperties"))
        self._store(event, "updated")
        if event.is_organizer:
            self._process_rooms(event)
        return 200, self.render(event, tz)

    def _graph_events_delete(self, *, app, mailbox: Mailbox, eid: str, **_):
        self._require(app, "Calendars.ReadWrite")
        found = self._find(mailbox, eid)
        if isinstance(found, Instance):
            found.event.cancelled.add(found.original_start)
            found.event.exceptions.pop(found.original_start, None)
            self._store(found.event, "updated")
            if found.event.is_organizer:
                self._process_rooms(found.event)
            return 204, None
        self._delete(found)
        if found.is_organizer:
            self._process_rooms(found, cancelled=True)
        return 204, None

    def _graph_events_respond(self, *, app, mailbox: Mailbox, eid: str, action: str, payload, **_):
        self._require(app, "Calendars.ReadWrite")
        found = self._find(mailbox, eid)
        event = found.event if isinstance(found, Instance) else found
        comment = str((payload or {}).get("comment") or (payload or {}).get("Comment") or "")
        action = action.lower()
        if action == "cancel":
            if not event.is_organizer:
                raise GraphError(
                    400, "ErrorAccessDenied", "Your request can't be completed. Only the organizer can cancel."
                )  # noqa: E501
            return self._graph_events_delete(app=app, mailbox=mailbox, eid=eid)
        if event.is_organizer:
            raise GraphError(
                400, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to this meeting."
            )
        response = {"accept": "accepted", "decline": "declined", "tentativelyaccept": "tentativelyAccepted"}[action]
        organizer = self.mailboxes.get(event.organizer[1].lower())
        original = (
            next((e for e in organizer.events.values() if e.ical_uid == event.ical_uid), None) if organizer else None
        )  # noqa: E501
        if response == "declined":
            if isinstance(found, Instance):
                event.cancelled.add(found.original_start)
                event.exceptions.pop(found.original_start, None)
                self._store(event, "updated")
            elif mailbox.kind == "room" or not event.is_organizer:
                self._delete(event)  # a declined meeting leaves the attendee's calendar
        else:
            event.response = response
            self._store(event, "updated")
        attendee = None
        if original is not None:
            attendee = next((a for a in original.attendees if a["address"].lower() == mailbox.address.lower()), None)
        if attendee is not None and original is not None:
            self._answer(
                original, attendee, response, comment, instance=found.id if isinstance(found, Instance) else None
            )  # noqa: E501
        else:
            self.responses.append(
                {
                    "room": mailbox.address,
                    "iCalUId": event.ical_uid,
                    "organizer": event.organizer[1],
                    "response": response,
                    "comment": comment,
                    "instance": found.id if isinstance(found, Instance) else None,
                    "at": _now(),
                }
            )
        return 202, None

    # subscriptions

    def _render_subscription(self, subscription: Subscription) -> dict:
        return {
            "@odata.context": f"{self.graph_endpoint}/$metadata#subscriptions/$entity",
            "id": subscription.id,
            "resource": subscription.resource,
            "applicationId": subscription.client_id,
            "changeType": ",".join(subscription.change_types),
            "clientState": subscription.client_state,
            "notificationUrl": subscription.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": subscription.lifecycle_url,
            "expirationDateTime": _iso(subscription.expiration),
            "creatorId": str(uuid.uuid5(uuid.NAMESPACE_URL, subscription.client_id)),
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def _expiration(self, value) -> datetime:
        if not value:
            raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
        expiration = _parse_query_datetime(str(value), "expirationDateTime")
        now = _now()
        if expiration <= now:
            raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
        if expiration > now + timedelta(minutes=SUBSCRIPTION_MAX_MINUTES):
            raise GraphError(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {SUBSCRIPTION_MAX_MINUTES} minutes in the future.",
            )
        return expiration

    def _subscription(self, app: App, subscription_id: str) -> Subscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription.expiration <= _now():
            self.subscriptions.pop(subscription_id, None)
            raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{subscription_id}'")
        if subscription.client_id != app.client_id or subscription.tenant_id != app.tenant_id:
            raise GraphError(403, "ExtensionError", "Operation: Read; Exception: [Status Code: Forbidden]")
        return subscription

    def _graph_subscriptions_create(self, *, app, payload, **_):
        payload = payload or {}
        self._require(app, "Calendars.ReadWrite")
        resource = str(payload.get("resource") or "")
        match = re.match(r"^/?users/([^/]+)/events$", resource, re.IGNORECASE)
        if not match:
            raise GraphError(400, "InvalidRequest", f"The resource '{resource}' is not supported by the fake.")
        mailbox = self._resolve_mailbox(app, requests.utils.unquote(match.group(1)))
        change_types = tuple(t.strip() for t in str(payload.get("changeType") or "").split(",") if t.strip())
        if not change_types or set(change_types) - {"created", "updated", "deleted"}:
            raise GraphError(400, "InvalidRequest", f"changeType '{payload.get('changeType')}' is not valid.")
        client_state = payload.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise GraphError(400, "InvalidRequest", "clientState must be at most 128 characters.")
        url, lifecycle = payload.get("notificationUrl"), payload.get("lifecycleNotificationUrl")
        for name, value in (("notificationUrl", url), ("lifecycleNotificationUrl", lifecycle)):
            if value is not None and urlsplit(str(value)).scheme not in {"http", "https"}:
                raise GraphError(400, "InvalidRequest", f"{name} must be an http(s) URL.")
        if not url:
            raise GraphError(400, "InvalidRequest", "notificationUrl is required.")
        expiration = self._expiration(payload.get("expirationDateTime"))
        # The handshake runs outside the lock: the project may call Graph while it answers.
        self.lock.release()
        try:
            problem = self._validate_endpoint(url) or (self._validate_endpoint(lifecycle) if lifecycle else None)
        finally:
            self.lock.acquire()
        if problem:
            raise GraphError(400, "ValidationError", problem)
        subscription = Subscription(
            id=str(uuid.uuid4()),
            client_id=app.client_id,
            tenant_id=app.tenant_id,
            mailbox=mailbox,
            resource=resource,
            change_types=change_types,
            notification_url=url,
            lifecycle_url=lifecycle,
            client_state=client_state,
            expiration=expiration,
        )
        self.subscriptions[subscription.id] = subscription
        return 201, self._render_subscription(subscription)

    def _graph_subscriptions_get(self, *, app, sid: str, **_):
        return 200, self._render_subscription(self._subscription(app, sid))

    def _graph_subscriptions_update(self, *, app, sid: str, payload, **_):
        subscription = self._subscription(app, sid)
        payload = payload or {}
        if "lifecycleNotificationUrl" in payload:
            raise GraphError(400, "InvalidRequest", "lifecycleNotificationUrl can only be set when creating.")
        if "notificationUrl" in payload:
            subscription.notification_url = payload["notificationUrl"]
        subscription.expiration = self._expiration(payload.get("expirationDateTime"))
        return 200, self._render_subscription(subscription)

    def _graph_subscriptions_reauthorize(self, *, app, sid: str, **_):
        self._subscription(app, sid)
        return 200, None

    def _graph_subscriptions_delete(self, *, app, sid: str, **_):
        self._subscription(app, sid)
        del self.subscriptions[sid]
        return 204, None


def _parse_prefer(header: str) -> dict[str, str]:
    prefer = {}
    for part in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', header):
        name, _, value = part.strip().partition("=")
        if name:
            prefer[name.strip().lower()] = value.strip().strip('"')
    return prefer


def _expand_ids(expand: str) -> set[str] | None:
    match = re.match(r"^singleValueExtendedProperties(?:\(\$filter=(?P<f>.*)\))?$", expand.strip(), re.IGNORECASE)
    if not match:
        raise GraphError(400, "BadRequest", f"Parsing OData Select and Expand failed: {expand}")
    if not match.group("f"):
        return None
    return {m.lower() for m in re.findall(r"id eq '([^']+)'", match.group("f"), re.IGNORECASE)}


def _event_filter(expression: str):
    expression = expression.strip()
    match = re.match(r"^iCalUId eq '([^']+)'$", expression, re.IGNORECASE)
    if match:
        return lambda e: e.ical_uid == match.group(1)
    match = re.match(
        r"^singleValueExtendedProperties/any\((\w+):\s*\1/id eq '([^']+)' and \1/value eq '([^']*)'\)$",
        expression,
        re.IGNORECASE,
    )
    if match:
        pid, value = match.group(2).lower(), match.group(3)
        return lambda e: pid in e.extended and e.extended[pid][1] == value
    raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"The fake cannot filter by: {expression}")


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, context: ssl.SSLContext):
        super().__init__(address, handler)
        self.context = context
        self.fake: FakeMicrosoft | None = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's thread, so one slow client never blocks the accept loop.
        try:
            request.settimeout(10)
            tls = self.context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection closes after this
    server_version = "fake-microsoft"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        prefer = self.headers.get_all("Prefer") or []
        if prefer:
            headers["prefer"] = ", ".join(prefer)
        status, extra, payload = self.server.fake.dispatch(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        logger.debug("fake Microsoft: " + format, *args)


@contextlib.contextmanager
def running(**options):
    """``with running() as fake:`` a started :class:`FakeMicrosoft`, stopped at the end."""
    fake = FakeMicrosoft(**options).start()
    try:
        yield fake
    finally:
        fake.stop()


DEMO_DOMAIN = "labs-demo.test"
DEMO_SERVICE_MAILBOX = f"labs-bookings@{DEMO_DOMAIN}"
# The demo tenant's room mailboxes: (address, name, capacity, building, floor). The demo links Labs rooms by name.
DEMO_ROOMS = [
    (f"nordlys@{DEMO_DOMAIN}", "Nordlys", 4, "Copenhagen", 2),
    (f"tinde@{DEMO_DOMAIN}", "Tinde", 2, "Copenhagen", 2),
    (f"oe@{DEMO_DOMAIN}", "Ø", 6, "Copenhagen", 2),
    (f"sund@{DEMO_DOMAIN}", "Sund", 12, "Copenhagen", 2),
]
DEMO_PEOPLE = [(f"freja@{DEMO_DOMAIN}", "Freja Holm"), (f"mads@{DEMO_DOMAIN}", "Mads Krogh")]
# The operator's multi-tenant app for personal calendars (Makefile: CALENDAR_FAKES_ENV), and the file in which
# ``demo_site`` names the demo site's people, so each of them can connect Outlook at this fake.
DEMO_PORTAL_CLIENT_ID = "3c0b1f7e-6d2a-4b9e-8f1c-2a5d7e9b0c41"
DEMO_PORTAL_CLIENT_SECRET = "labs-demo-portal-secret"  # noqa: S105 - the fake's demo credential
DEMO_PEOPLE_FILE = "microsoft-people.json"


def demo_seed(fake: FakeMicrosoft, *, now: datetime | None = None) -> None:
    """The demo tenant (``make run``): its room mailboxes, the service mailbox, two people, and a few Outlook meetings
    in the coming days, the same on every start (the fake keeps nothing across restarts)."""
    now = (now or _now()).astimezone(ZoneInfo("Europe/Copenhagen"))
    with fake.lock:
        fake.add_multitenant_app(DEMO_PORTAL_CLIENT_ID, DEMO_PORTAL_CLIENT_SECRET)
        fake.add_user(DEMO_SERVICE_MAILBOX, "Labs bookings")
        for address, name in DEMO_PEOPLE:
            fake.add_user(address, name)
        for address, name, capacity, building, floor in DEMO_ROOMS:
            fake.add_room(address, name, capacity=capacity, building=building, floor=floor)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset, (room, organiser, hour, subject) in enumerate(
            [
                (DEMO_ROOMS[0][0], DEMO_PEOPLE[0][0], 10, "Sprint planning"),
                (DEMO_ROOMS[2][0], DEMO_PEOPLE[1][0], 13, "Investor call"),
                (DEMO_ROOMS[3][0], DEMO_PEOPLE[0][0], 9, "All hands"),
            ],
            start=1,
        ):
            start = (day + timedelta(days=offset)).replace(hour=hour)
            fake.outlook_create(
                organiser,
                subject=subject,
                start=start,
                end=start + timedelta(hours=1),
                rooms=[room],
                time_zone="Romance Standard Time",
            )
        start = (day + timedelta(days=1)).replace(hour=9)
        fake.outlook_create(
            DEMO_PEOPLE[1][0],
            subject="Stand-up",
            start=start,
            end=start + timedelta(minutes=15),
            rooms=[DEMO_ROOMS[1][0]],
            time_zone="Romance Standard Time",
            recurrence={
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "numberOfOccurrences": 10},
            },
        )


def serve(*, state_dir: Path | str, port: int = 9102, stdout=None, host: str = "127.0.0.1") -> FakeMicrosoft:
    """``manage.py calendar_fakes``: a long-running fake with the demo tenant, delivering notifications by itself.

    Its CA and certificate live in ``state_dir/microsoft`` (made once, reused: ``MS_CA_BUNDLE`` points there); its
    calendars live in memory, so a restart starts from the demo tenant again (the project's syncs see a 410 and
    resync, and its renewals find their subscriptions gone and make new ones). ``.stop()`` stops it."""
    fake = FakeMicrosoft(host=host, port=port, state_dir=Path(state_dir) / "microsoft", auto_deliver=True).start()
    demo_seed(fake)
    people = Path(state_dir) / DEMO_PEOPLE_FILE
    if people.exists():  # the demo site's people, each with an Outlook calendar to connect
        with fake.lock:
            for address, name in json.loads(people.read_text()):
                if address.lower() not in fake.mailboxes:
                    fake.add_user(address, name)
    if stdout is not None:
        stdout.write(
            f"microsoft: fake identity platform and Graph on {fake.authority_host} "
            f"(MS_AUTHORITY_HOST={fake.authority_host} MS_GRAPH_ENDPOINT={fake.graph_endpoint} "
            f"MS_CA_BUNDLE={fake.ca_bundle}); demo tenant {DEMO_DOMAIN}: {len(DEMO_ROOMS)} room mailboxes"
        )
    return fake


__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEMO_PEOPLE_FILE",
    "DEMO_PORTAL_CLIENT_ID",
    "DEMO_PORTAL_CLIENT_SECRET",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TENANT_ID",
    "Delivery",
    "Event",
    "FakeMicrosoft",
    "GraphError",
    "Instance",
    "Mailbox",
    "Subscription",
    "TLSFiles",
    "ensure_tls",
    "running",
    "serve",
    "zone",
]
