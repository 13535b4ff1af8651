"""Fixtures for the Google half and the engine: the fake Google (one server per run, a fresh tenant per test) that
google-auth and google-api-python-client talk to, pointed at by settings; a linked room; the clock; helpers.

Import what a module uses (``from tests.calendars.google_support import ...  # noqa: F401``). The tenant
``labs.test`` has the rooms Fjord and Havn, the service user the connection acts as, and Alice and Bob; the site's
clock stands still on Monday 2 March 2026, 08:00 in Copenhagen.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache

from bookings.models import Booking
from calendars import services
from calendars.fakes.google import FakeGoogle, Tenant, make_service_account
from calendars.fakes.server import FakeServer
from calendars.models import RoomCalendar
from tests.bookings.conftest import MONDAY, local
from tests.bookings.factories import RoomFactory
from tests.factories import FloorFactory, PersonFactory

ROOM = "fjord@resource.labs.test"
OTHER_ROOM = "havn@resource.labs.test"
SERVICE_USER = "labs-sync@labs.test"
ALICE = "alice@labs.test"
BOB = "bob@labs.test"
CLIENT_EMAIL = "labs-sync@labs-fake.iam.gserviceaccount.com"
NOTIFICATIONS = "/api/v1/calendars/google/notifications/"

__all__ = [
    "ALICE",
    "BOB",
    "MONDAY",
    "NOTIFICATIONS",
    "OTHER_ROOM",
    "ROOM",
    "SERVICE_USER",
    "alice",
    "committed",
    "deliver",
    "fake_google",
    "fjord",
    "frozen",
    "google_connection",
    "google_credentials",
    "google_server",
    "google_service_account",
    "havn",
    "linked",
    "live_bookings",
    "local",
    "quick_passwords",
    "sync_now",
]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def google_service_account():
    """One service-account key for the run (RSA key generation is the slow part); the token_uri is set per server."""
    return make_service_account(CLIENT_EMAIL, token_uri="http://placeholder/token")


@pytest.fixture(scope="session")
def google_server():
    server = FakeServer(None).start()
    yield server
    server.stop()


@pytest.fixture
def fake_google(google_server, google_service_account, settings, frozen):
    """A fresh fake tenant behind the run's server; settings point the client libraries at it."""
    tenant = Tenant(domain="labs.test", customer="C0labs", timezone="Europe/Copenhagen")
    tenant.add_user(SERVICE_USER, name="Labs sync", admin=True)
    tenant.add_user(ALICE, name="Alice Jensen")
    tenant.add_user(BOB, name="Bob Berg")
    tenant.add_room(ROOM, name="Fjord", capacity=6, building="HQ", floor="1")
    tenant.add_room(OTHER_ROOM, name="Havn", capacity=10, building="HQ", floor="2")
    tenant.service_accounts[CLIENT_EMAIL] = google_service_account[1]
    fake = FakeGoogle(tenant)
    google_server.fake = fake
    settings.GOOGLE_API_ENDPOINT = f"{google_server.base_url}/calendar/v3/"
    settings.GOOGLE_ADMIN_API_ENDPOINT = f"{google_server.base_url}/"
    settings.CALENDAR_RETRY_MAX_WAIT = 1
    cache.clear()  # the access tokens shared by "workers"
    yield fake
    cache.clear()


@pytest.fixture
def google_credentials(google_server, google_service_account):
    info = dict(google_service_account[0], token_uri=f"{google_server.base_url}/token")
    return {"service_account": info, "subject": SERVICE_USER}


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block, then what it left for after commit (handlers, eager tasks), as production would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def google_connection(site, staff, fake_google, google_credentials):
    return services.connection_create(
        actor=staff, site=site, provider="google", name="Workspace", credentials=google_credentials
    )


@pytest.fixture
def fjord(site):
    floor = FloorFactory(site=site, level=1, name="First floor")
    return RoomFactory(site=site, floor=floor, name="Fjord", capacity=6)


@pytest.fixture
def havn(fjord):
    return RoomFactory(site=fjord.site, floor=fjord.floor, name="Havn", capacity=10)


@pytest.fixture
def linked(google_connection, fjord, staff, committed) -> RoomCalendar:
    """Fjord linked to its resource calendar: the first (full) sync ran and the channel is open."""
    with committed():
        services.room_calendar_link(actor=staff, room=fjord, connection=google_connection, calendar_id=ROOM)
    return RoomCalendar.objects.get(room=fjord)


@pytest.fixture
def alice(site, company):
    """A member here whose address is her Workspace address: her events are booked for her."""
    return PersonFactory(user__username="alice", user__email=ALICE, site=site, company=company)


def sync_now(calendar: RoomCalendar, **kwargs):
    from calendars import sync

    return sync.calendar_sync(calendar_id=calendar.pk, **kwargs)


def live_bookings(room):
    return list(Booking.objects.filter(room=room, status__in=["confirmed", "checked_in"]).order_by("start"))


def deliver(client, notifications, *, drop: float = 0.0, duplicate: int = 1, shuffle: bool = False, seed: int = 7):
    """POST the fake's queued notifications to the project as Google would: some dropped, duplicated, shuffled."""
    rng = random.Random(seed)
    batch = [n for n in notifications for _ in range(duplicate) if rng.random() >= drop]
    if shuffle:
        rng.shuffle(batch)
    answers = []
    for notification in batch:
        response = client.post(NOTIFICATIONS, headers=notification["headers"])
        answers.append(response.status_code)
    return answers


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
