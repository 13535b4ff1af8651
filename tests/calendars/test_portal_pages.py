"""The staff page of calendar sync health, and the admin's: each room's last sync, requests, channel expiry, last
error and a "sync now" button."""

from __future__ import annotations

import pytest

from calendars.models import RoomCalendar
from tests.calendars.google_support import ROOM
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_web(client, staff):
    signed_in(client, staff)
    return client


def test_staff_see_each_rooms_sync_health(linked, staff_web):
    RoomCalendar.objects.filter(pk=linked.pk).update(
        last_error="Google answered 503 backendError", consecutive_failures=2
    )

    html = staff_web.get("/calendars/").content.decode()

    assert "Workspace" in html and ROOM in html
    assert "Mon 2 Mar, 08:00" in html  # last sync, in the site's zone, as the pages write a day
    assert "Mon 9 Mar, 08:00" in html  # the channel's expiry
    assert "Google answered 503 backendError" in html and "2 in a row" in html


def test_the_health_page_names_states_and_zone_in_the_readers_language(linked, staff_web):
    html = staff_web.get("/calendars/").content.decode()
    assert "Times in Copenhagen time." in html and "Europe/Copenhagen" not in html
    assert ">In sync</span>" in html and ">ok</span>" not in html
    staff_web.cookies["django_language"] = "da"
    danish = staff_web.get("/calendars/").content.decode()
    assert "Tidspunkter i Copenhagen-tid." in danish
    assert ">Synkroniseret</span>" in danish and ">Aktiv</span>" in danish
    assert "man. 2. mar., 08:00" in danish


def test_sync_now_from_the_page(linked, staff_web, fake_google, committed):
    fake_google.log.clear()
    with committed():
        response = staff_web.post(f"/calendars/rooms/{linked.pk}/sync/")

    assert response.status_code == 302
    assert len(fake_google.requests_for(ROOM)) == 1
    with committed():
        assert staff_web.post(f"/calendars/connections/{linked.connection_id}/sync/").status_code == 302
    assert len(fake_google.requests_for(ROOM)) == 2


def test_only_staff_see_calendars(linked, client, member):
    client.force_login(member.user)
    assert client.get("/calendars/").status_code == 403
    assert client.post(f"/calendars/rooms/{linked.pk}/sync/").status_code == 403


def test_the_nav_shows_calendars_to_staff_only(staff_web, client, member):
    assert "Calendars" in staff_web.get("/").content.decode()
    client.force_login(member.user)
    assert "/calendars/" not in client.get("/").content.decode()


def test_the_admin_shows_the_health_and_syncs(linked, admin_client, fake_google, committed):
    page = admin_client.get("/admin/calendars/roomcalendar/")
    assert page.status_code == 200 and ROOM in page.content.decode()
    assert admin_client.get(f"/admin/calendars/connection/{linked.connection_id}/change/").status_code == 200
    assert (
        "private_key"
        not in admin_client.get(f"/admin/calendars/connection/{linked.connection_id}/change/").content.decode()
    )
    fake_google.log.clear()
    with committed():
        admin_client.post("/admin/calendars/roomcalendar/", {"action": "sync_now", "_selected_action": [linked.pk]})
    assert len(fake_google.requests_for(ROOM)) == 1


@pytest.mark.parametrize(
    ("language", "said"),
    [("en", "last synced Tue 1 Dec, 10:05"), ("da", "sidst synkroniseret tir. 1. dec., 10:05")],
)
def test_my_calendar_says_when_it_last_synced_as_the_language_writes_a_day(client, member, language, said):
    from datetime import UTC, datetime

    from calendars.models import PersonalCalendar

    PersonalCalendar.objects.create(
        person=member,
        provider="google",
        account="member@example.com",
        status="connected",
        last_sync_at=datetime(2026, 12, 1, 9, 5, tzinfo=UTC),  # 10:05 in Copenhagen
    )
    client.force_login(member.user)
    page = client.get("/calendar/", headers={"accept-language": language}).content.decode()
    assert said in page
