"""The operator's view: today's occupancy, arrivals, devices offline and calendar sync errors at the staff member's
site; finding a person there and seeing their bookings and badge. Staff of the same site only."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from badges import services as badge_services
from bookings.choices import BookingStatus
from labs.choices import Role
from tests.bookings.factories import BookingFactory, DeskFactory, RoomFactory
from tests.comfort.factories import DeviceFactory
from tests.factories import PersonFactory, SiteFactory
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_morning():
    """10:00 in Copenhagen on a weekday: the scene's "in an hour" and "an hour ago" fall on the site's today whenever
    the suite runs (at 23:00 local, "in an hour" was tomorrow and the expected visitor left today's list)."""
    with time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen")), tick=True):
        yield


@pytest.fixture
def scene(site, member, colleague, staff):
    now = timezone.now()
    desks = [DeskFactory(site=site) for _ in range(4)]
    room = RoomFactory(site=site)
    BookingFactory(room=None, desk=desks[0], site=site, organiser=member, start=now - timedelta(hours=1),
                   end=now + timedelta(hours=2), hold_end=now + timedelta(hours=2),
                   status=BookingStatus.CHECKED_IN)  # fmt: skip
    BookingFactory(room=room, site=site, organiser=member, start=now - timedelta(minutes=10),
                   end=now + timedelta(minutes=50))  # fmt: skip
    DeviceFactory(desk=desks[1], online=False, device_id="desk-offline-1")
    DeviceFactory(desk=desks[2], online=True, device_id="desk-online-1")
    badge_services.visit_create(host=member, site=site, name="Erik Expected", email="e@guests.example",
                                start=now + timedelta(hours=1), end=now + timedelta(hours=2))  # fmt: skip
    badge_services.badge_issue(actor=staff, person=member, kind="digital")
    other_site = SiteFactory(slug="aar", name="Aarhus")
    PersonFactory(user__username="faraway", user__first_name="Freja", user__last_name="Faraway", site=other_site)
    return {"desks": desks, "room": room}


def test_staff_see_their_sites_day(scene, staff):
    page = signed_in(Client(), staff).get("/operations/").content.decode()
    assert "Desks booked today" in page and "1 / 4" in page  # one desk of four
    assert "25 % of the desks" in page and "1 checked in now" in page
    assert "Rooms in use now" in page and "1 / 1" in page
    assert "Erik Expected" in page
    assert "desk-offline-1" in page and "desk-online-1" not in page
    assert "style=" not in page and "<script>" not in page


def test_staff_find_a_person_of_their_site_and_see_bookings_and_badge(scene, staff, member):
    client = signed_in(Client(), staff)
    results = client.get("/operations/?q=" + member.user.username).content.decode()
    assert f"/operations/people/{member.pk}/" in results
    assert "Faraway" not in client.get("/operations/?q=faraway").content.decode()  # another site's person: not found
    page = client.get(f"/operations/people/{member.pk}/").content.decode()
    assert scene["room"].name in page and "Desk " + scene["desks"][0].label in page
    assert "Digital" in page and "Active" in page  # the badge and its status


def test_another_sites_person_and_non_staff_are_refused(scene, staff, member):
    faraway = PersonFactory._meta.model.objects.get(user__username="faraway")
    assert signed_in(Client(), staff).get(f"/operations/people/{faraway.pk}/").status_code == 404
    member_client = Client()
    member_client.force_login(member.user)
    assert member_client.get("/operations/").status_code == 403
    assert member_client.get(f"/operations/people/{member.pk}/").status_code == 403
    other_staff = PersonFactory(role=Role.STAFF, site=faraway.site, company=None)
    assert signed_in(Client(), other_staff).get(f"/operations/people/{member.pk}/").status_code == 404


def test_the_operators_view_in_danish(scene, staff):
    page = signed_in(Client(HTTP_ACCEPT_LANGUAGE="da"), staff).get("/operations/").content.decode()
    assert "I dag på lokationen" in page and "Skriveborde booket i dag" in page and "Find en person" in page


def test_dates_on_the_operators_pages_follow_the_language(scene, staff, member, site):
    """A badge's "from" and an offline device's "last seen" as each language writes a date (labs.dates)."""
    from django.utils import formats, translation

    from badges.models import Badge
    from comfort.models import Device

    seen = timezone.now() - timedelta(days=2)
    Device.objects.filter(device_id="desk-offline-1").update(last_seen_at=seen)
    valid_from = Badge.objects.get(person=member).valid_from.astimezone(site.tz)
    seen = seen.astimezone(site.tz)
    months = {1: "jan", 2: "feb", 3: "mar", 4: "apr", 5: "maj", 6: "jun", 7: "jul", 8: "aug", 9: "sep", 10: "okt",
              11: "nov", 12: "dec"}  # fmt: skip
    with translation.override("en-gb"):
        english_from = formats.date_format(valid_from, "j M Y")  # "29 Nov 2026"
    client = signed_in(Client(), staff)
    pages = {
        lang: (
            client.get(f"/operations/people/{member.pk}/", HTTP_ACCEPT_LANGUAGE=lang).content.decode(),
            client.get("/operations/", HTTP_ACCEPT_LANGUAGE=lang).content.decode(),
        )
        for lang in ("en-gb", "da")
    }
    assert f"from {english_from}" in pages["en-gb"][0]
    assert f"fra {valid_from.day}. {months[valid_from.month]}. {valid_from.year}" in pages["da"][0]
    assert f"{seen.day}. {months[seen.month]}., {seen:%H:%M}" in pages["da"][1]  # "sidst set tor. 26. nov., 14:05"
    assert f"{seen.day} {seen:%b}, {seen:%H:%M}" in pages["en-gb"][1]  # "last seen Thu 26 Nov, 14:05"
