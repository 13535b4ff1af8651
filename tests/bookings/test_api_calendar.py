"""GET /api/v1/me/calendar.ics and the private tokenised feed: valid RFC 5545, stable UIDs, cancellations."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from bookings import services
from bookings.models import CalendarFeed
from tests.bookings.conftest import local

pytestmark = pytest.mark.usefixtures("frozen")

ICS = "/api/v1/me/calendar.ics"
FEED = "/api/v1/me/calendar-feed/"


def _events(content: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(content)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


@pytest.fixture
def bookings(member, colleague, room, desk):
    kept = services.booking_create(
        actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Retro"
    )
    dropped = services.booking_create(actor=member, desk=desk, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 17))
    services.booking_cancel(actor=member, booking=dropped)
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))
    return kept, dropped


def test_my_calendar_is_valid_icalendar_with_my_bookings_only(member_client, bookings):
    kept, dropped = bookings

    response = member_client.get(ICS, HTTP_ACCEPT="text/calendar")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = _events(response.content)
    assert set(events) == {f"{kept.uid}@bookings.labs", f"{dropped.uid}@bookings.labs"}
    retro = events[f"{kept.uid}@bookings.labs"]
    assert str(retro["SUMMARY"]) == "Retro"
    assert str(retro["STATUS"]) == "CONFIRMED"
    assert retro.decoded("DTSTART") == local(2026, 3, 3, 10)
    assert retro.decoded("DTEND") == local(2026, 3, 3, 11)
    assert "Fjord" in str(retro["LOCATION"])
    assert str(events[f"{dropped.uid}@bookings.labs"]["STATUS"]) == "CANCELLED"


def test_uids_are_stable_when_a_booking_moves(member, member_client, bookings):
    kept, _ = bookings
    before = _events(member_client.get(ICS).content)[f"{kept.uid}@bookings.labs"]

    services.booking_update(actor=member, booking=kept, start=local(2026, 3, 3, 14), end=local(2026, 3, 3, 15))
    after = _events(member_client.get(ICS).content)[f"{kept.uid}@bookings.labs"]

    assert after.decoded("DTSTART") == local(2026, 3, 3, 14)
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1


def test_the_calendar_needs_sign_in(anon_client):
    assert anon_client.get(ICS).status_code in {401, 403}


def test_the_private_feed_serves_the_same_calendar_by_token(member, member_client, anon_client, bookings):
    created = member_client.post(FEED)
    assert created.status_code == 201
    url = created.json()["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 40
    # Only a digest of the token is stored.
    stored = CalendarFeed.objects.get(person=member)
    assert token not in stored.token_digest

    response = anon_client.get(url)

    assert response.status_code == 200
    assert set(_events(response.content)) == set(_events(member_client.get(ICS).content))


def test_regenerating_the_feed_retires_the_old_url(member_client, anon_client, bookings):
    old = member_client.post(FEED).json()["url"]
    new = member_client.post(FEED).json()["url"]

    assert old != new
    assert anon_client.get(old).status_code == 404
    assert anon_client.get(new).status_code == 200


def test_deleting_the_feed_stops_it(member_client, anon_client, bookings):
    url = member_client.post(FEED).json()["url"]
    assert member_client.delete(FEED).status_code == 204
    assert anon_client.get(url).status_code == 404


def test_a_wrong_token_is_404(db, anon_client):
    response = anon_client.get("/api/v1/calendar/feeds/not-a-real-token.ics")
    assert response.status_code == 404


def test_the_outsider_sees_none_of_the_members_bookings(outsider_client, bookings):
    assert _events(outsider_client.get(ICS).content) == {}
    outsider_feed = outsider_client.post(FEED).json()["url"]
    assert _events(outsider_client.get(outsider_feed).content) == {}
