"""Fixtures for the Microsoft half: the fake identity platform and Graph (one per test run), pointed at by settings.

Import the fixtures a test module uses (``from tests.calendars.ms_support import fake_ms  # noqa: F401``). Each test
gets the fake reset, with two rooms, a service mailbox and two people; the shared cache and msal's per-process apps
start empty; the network beyond loopback is closed, so a request meant for Microsoft fails the test.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from calendars.fakes.microsoft import FakeMicrosoft
from calendars.providers import microsoft

ROOM = "fjord@contoso.test"
OTHER_ROOM = "havn@contoso.test"
SERVICE = "labs-bookings@contoso.test"
ALICE = "alice@contoso.test"
BOB = "bob@contoso.test"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "testserver"}


@pytest.fixture(scope="session")
def ms_server(tmp_path_factory):
    with FakeMicrosoft(state_dir=tmp_path_factory.mktemp("fake-microsoft")) as fake:
        yield fake


@pytest.fixture
def closed_network(monkeypatch):
    """Name resolution answers loopback only: any request to Microsoft (or anywhere else) fails loudly."""
    real = socket.getaddrinfo
    tried = []

    def getaddrinfo(host, *args, **kwargs):
        if str(host) not in _LOOPBACK:
            tried.append(host)
            raise OSError(f"network closed in tests: {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return tried


def echo_transport(url, *, body, content_type, timeout):
    """A project stand-in for the validation handshake: echo the token; take notifications."""
    token = parse_qs(urlsplit(url).query).get("validationToken")
    return (200, token[0]) if token else (202, "")


@pytest.fixture
def fake_ms(ms_server, settings, closed_network, monkeypatch):
    """The fake, reset, with rooms Fjord and Havn, the service mailbox and two people; settings point at it."""
    ms_server.reset()
    ms_server.transport = echo_transport
    ms_server.add_room(ROOM, "Fjord", capacity=6, building="HQ", floor=1)
    ms_server.add_room(OTHER_ROOM, "Havn", capacity=10, building="HQ", floor=2)
    ms_server.add_user(SERVICE, "Labs bookings")
    ms_server.add_user(ALICE, "Alice Jensen")
    ms_server.add_user(BOB, "Bob Berg")
    for name, value in ms_server.settings().items():
        setattr(settings, name, value)
    settings.CALENDAR_RETRY_MAX_WAIT = 5
    cache.clear()
    monkeypatch.setattr(microsoft, "_apps", {})
    yield ms_server
    ms_server.transport = echo_transport


def credentials(fake: FakeMicrosoft, **overrides) -> dict:
    return {**fake.credentials(), "service_mailbox": SERVICE, **overrides}


def at(days: int = 0, hour: int = 9, minute: int = 0) -> datetime:
    """A time ``days`` after tomorrow at ``hour``:``minute`` UTC (inside every sync window)."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return base + timedelta(days=days, hours=hour, minutes=minute)


# --- the engine end to end ----------------------------------------------------------------------------------------

NOTIFICATIONS = "/api/v1/calendars/microsoft/notifications/"
LIFECYCLE = "/api/v1/calendars/microsoft/lifecycle/"


def django_transport(url, *, body, content_type, timeout):
    """Graph's POSTs to the project, through Django's full request stack (no socket): each call a fresh client, so
    the validation handshake (from the fake's server thread) and notifications (from the test) never share one."""
    from django.test import Client

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    response = Client().post(target, data=body, content_type=content_type)
    return response.status_code, response.content.decode()


@pytest.fixture
def ms_project(fake_ms, frozen):
    """The fake on the frozen clock, POSTing validations and notifications into the project."""
    fake_ms.transport = django_transport
    return fake_ms


@pytest.fixture
def ms_connection(site, staff, ms_project):
    from calendars import services

    return services.connection_create(
        actor=staff, site=site, provider="microsoft", name="Operator M365", credentials=credentials(ms_project)
    )


@pytest.fixture
def ms_linked(ms_connection, fjord, staff, committed):
    """Fjord linked to its room mailbox: the first (full) sync ran and the subscription is validated and open."""
    from calendars import services
    from calendars.models import RoomCalendar

    with committed():
        services.room_calendar_link(actor=staff, room=fjord, connection=ms_connection, calendar_id=ROOM)
    return RoomCalendar.objects.get(room=fjord)


# --- a person's consent (personal calendars), as a browser goes through it -----------------------------------------


class PostedForm(HTMLParser):
    """The action and fields of the identity platform's form_post page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action, self.fields = "", {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs["action"]
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs["value"]


def consent_page(client: Client, fake) -> tuple:
    """The portal's redirect to the consent, and the identity platform's page that posts the answer back."""
    start = client.get("/calendar/connect/microsoft/")
    assert start.status_code == 302, start.content[:300]
    consent = requests.get(start["Location"], allow_redirects=False, timeout=10, verify=fake.ca_bundle)
    assert consent.status_code == 200, consent.text[:300]
    return start, PostedForm(consent.text)


def post_answer(client: Client, form: PostedForm):
    """As a browser does: the page's cross-site POST carries no session cookie (SameSite=Lax) and no CSRF token;
    its answer, kept in a cookie, comes back with the GET it is sent to, which carries the session."""
    posted = Client(enforce_csrf_checks=True).post(urlsplit(form.action).path, form.fields)
    assert posted.status_code == 303, posted.content[:300]
    assert "code=" not in posted["Location"] and form.fields["code"] not in posted.cookies["labs_calendar_answer"].value
    client.cookies.update(posted.cookies)
    return client.get(posted["Location"])
