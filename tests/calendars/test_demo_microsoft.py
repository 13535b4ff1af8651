"""The demo's Microsoft half: with the local fake configured, the demo tenant is connected and four rooms linked to
its room mailboxes, whose Outlook meetings become bookings; otherwise the demo connects nothing."""

from __future__ import annotations

import io

import pytest

from bookings.choices import BookingSource
from bookings.models import Booking
from calendars import demo_microsoft
from calendars.fakes.microsoft import DEMO_ROOMS, demo_seed
from calendars.models import Connection, RoomCalendar
from tests.bookings.factories import RoomFactory

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
