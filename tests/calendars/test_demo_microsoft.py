"""The demo's Microsoft half: with the local fake configured, the demo tenant is connected and four rooms linked to
its room mailboxes, whose Outlook meetings become bookings; otherwise the demo connects nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client

from bookings.choices import BookingSource
from bookings.models import Booking
from calendars import demo_microsoft
from calendars.fakes.microsoft import (
    DEMO_PEOPLE_FILE,
    DEMO_PORTAL_CLIENT_ID,
    DEMO_PORTAL_CLIENT_SECRET,
    DEMO_ROOMS,
    demo_seed,
    serve,
)
from calendars.models import Connection, PersonalCalendar, RoomCalendar
from tests.bookings.factories import RoomFactory
from tests.calendars.ms_support import consent_page, post_answer
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_rooms(site, staff):
    return [RoomFactory(site=site, name=name, capacity=capacity) for _address, name, capacity, *_ in DEMO_ROOMS]


def test_the_demo_links_four_rooms_to_the_fake_tenant_and_books_its_meetings(
    ms_project, site, staff, demo_rooms, committed
):
    demo_seed(ms_project)
    out = io.StringIO()

    with committed():
        demo_microsoft.seed(site=site, stdout=out)

    assert RoomCalendar.objects.filter(connection__provider="microsoft").count() == 4
    assert "4 rooms linked to the demo tenant (+4)" in out.getvalue()
    booked = Booking.objects.filter(source=BookingSource.MICROSOFT)
    assert booked.count() == 3 + 10  # three meetings and a daily stand-up of ten
    assert len(ms_project.subscriptions) == 4

    with committed():
        demo_microsoft.seed(site=site, stdout=out)
    assert Connection.objects.count() == 1
    assert "(+0)" in out.getvalue().splitlines()[-1]


def test_without_the_local_fake_the_demo_connects_nothing(site, staff, demo_rooms, settings, closed_network):
    settings.MS_AUTHORITY_HOST = "https://login.microsoftonline.com"
    out = io.StringIO()

    demo_microsoft.seed(site=site, stdout=out)

    assert not Connection.objects.exists()
    assert closed_network == []
    assert "not the local fake" in out.getvalue()


def test_a_demo_member_connects_outlook_at_the_served_fake(
    ms_server, site, staff, demo_rooms, settings, tmp_path, closed_network, committed
):
    """`make run`: the demo names its people to the fake, which serves them as Outlook users and knows the operator's
    demo multi-tenant app (Makefile: MS_OAUTH_CLIENT_ID), so the demo member connects Microsoft 365 as with Google."""
    settings.VAR_DIR = tmp_path
    settings.MS_AUTHORITY_HOST = ms_server.authority_host  # the local fake: the demo seeds
    member = PersonFactory(user__username="member", user__email="member@labs-demo.example", site=site)
    PersonFactory(user__username="not-a-demo-person", user__email="someone@labs-demo.example", site=site)
    out = io.StringIO()
    demo_microsoft.seed(site=site, stdout=out)
    named = {address for address, _name in json.loads((tmp_path / "calendar-fakes" / DEMO_PEOPLE_FILE).read_text())}
    assert named == {member.user.email, staff.user.email}  # the demo's people (member, staff), no one else
    assert "2 demo people can connect their Outlook calendar" in out.getvalue()

    served = serve(state_dir=tmp_path / "calendar-fakes", port=0)
    try:
        for name, value in served.settings().items():
            setattr(settings, name, value)
        settings.MS_OAUTH_CLIENT_ID, settings.MS_OAUTH_CLIENT_SECRET = DEMO_PORTAL_CLIENT_ID, DEMO_PORTAL_CLIENT_SECRET
        client = Client()
        client.force_login(member.user)
        with committed():
            _start, form = consent_page(client, served)
            done = post_answer(client, form)
    finally:
        served.stop()
    assert done["Location"] == "/calendar/"
    calendar = PersonalCalendar.objects.get(person=member)
    assert (calendar.provider, calendar.account, calendar.status) == ("microsoft", member.user.email, "connected")
