"""The demo: demo_site links four rooms to a fake Google tenant made of the site's rooms and people; the fake serves
that tenant (and keeps its state across restarts); the demo colleague's events become bookings."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from bookings.models import Booking
from calendars import demo, services
from calendars.fakes.google import serve
from calendars.models import Connection, RoomCalendar

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "calendar-fakes"


@pytest.fixture
def seeded(demo_dir, frozen):
    call_command("demo_site", stdout=StringIO())
    return demo_dir


def test_the_demo_links_four_rooms_once(seeded):
    call_command("demo_site", stdout=StringIO())

    assert Connection.objects.get().name == demo.CONNECTION_NAME
    assert sorted(RoomCalendar.objects.values_list("room__name", flat=True)) == sorted(demo.LINKED_ROOMS)
    assert (seeded / "google-service-account.json").stat().st_mode & 0o777 == 0o600


def test_the_demo_colleagues_meetings_become_bookings(seeded, settings, committed):
    served = serve(state_dir=seeded, port=0, stdout=StringIO())
    try:
        settings.GOOGLE_API_ENDPOINT = f"{served.server.base_url}/calendar/v3/"
        token_uri = f"{served.server.base_url}/token"  # the demo key names port 9101; this fake has its own
        connection = Connection.objects.get()
        account = {**connection.credentials["service_account"], "token_uri": token_uri}
        connection.credentials = {**connection.credentials, "service_account": account}
        connection.save()
        out = StringIO()
        call_command(
            "calendar_colleague", "--every", "0", "--rounds", "4", "--seed", "5", "--token-uri", token_uri, stdout=out
        )
        assert out.getvalue().count("booked") >= 1
        with committed():
            services.calendars_reconcile()
    finally:
        served.stop()

    assert Booking.objects.filter(source="google").exists()
    assert set(RoomCalendar.objects.values_list("status", flat=True)) == {"ok"}


def test_the_fake_keeps_its_state_across_restarts(seeded):
    first = serve(state_dir=seeded, port=0, stdout=StringIO())
    event = first.fake.user_event_create(
        "colleague@nordlys-robotics.example",
        summary="Kept",
        start=demo_dir_now(),
        end=demo_dir_now(hours=1),
        rooms=(demo.room_email("Fjord"),),
    )
    first.stop()

    second = serve(state_dir=seeded, port=0, stdout=StringIO())
    try:
        assert second.fake.event_on(demo.room_email("Fjord"), event)["summary"] == "Kept"
    finally:
        second.stop()


def demo_dir_now(hours: int = 0):
    from datetime import UTC, datetime, timedelta

    return datetime(2026, 3, 3, 9, tzinfo=UTC) + timedelta(hours=hours)


def test_the_demo_member_connects_their_calendar_at_the_served_fake(seeded, settings, committed):
    """`make run`: the served fake knows the operator's demo OAuth client and approves the demo member at once."""
    import requests
    from django.test import Client

    from calendars.models import PersonalCalendar
    from labs.models import Person

    served = serve(state_dir=seeded, port=0, stdout=StringIO())
    try:
        base = served.server.base_url
        settings.GOOGLE_API_ENDPOINT = f"{base}/calendar/v3/"
        settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET = (
            demo.OAUTH_CLIENT_ID,
            demo.OAUTH_CLIENT_SECRET,
        )
        settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{base}/o/oauth2/v2/auth"
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{base}/token"
        member = Person.objects.get(user__username="member")
        client = Client()
        client.force_login(member.user)
        start = client.get("/calendar/connect/google/")
        consent = requests.get(start["Location"], allow_redirects=False, timeout=10)
        with committed():
            client.get(consent.headers["Location"])
    finally:
        served.stop()
    calendar = PersonalCalendar.objects.get(person=member)
    assert (calendar.account, calendar.status) == (member.user.email, "connected")
    assert calendar.last_sync_at is not None
