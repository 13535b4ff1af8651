"""Cross-cutting HTTP behaviour: pages in the site's time zone; the API the same whoever asks."""

from datetime import UTC, datetime

import time_machine

from tests.factories import PersonFactory, SiteFactory


def test_a_page_shows_the_time_in_the_persons_site_zone(client, member):
    client.force_login(member.user)
    with time_machine.travel(datetime(2026, 11, 29, 20, 23, tzinfo=UTC), tick=False):
        response = client.get("/")

    page = response.content.decode()
    assert "21:23" in page  # Copenhagen is UTC+1 in November
    assert "20:23" not in page


def test_each_person_sees_their_own_sites_zone(client, db):
    tokyo = SiteFactory(slug="tyo", name="Tokyo", timezone="Asia/Tokyo")
    person = PersonFactory(site=tokyo, role="mentor", company=None)
    client.force_login(person.user)
    with time_machine.travel(datetime(2026, 11, 29, 20, 23, tzinfo=UTC), tick=False):
        page = client.get("/").content.decode()

    assert "05:23" in page


def test_the_api_answers_the_same_to_a_session_as_to_a_token(client, member):
    from rest_framework.test import APIClient

    from tests.bookings.factories import BookingFactory, RoomFactory

    BookingFactory(room=RoomFactory(site=member.site), organiser=member, start=datetime(2030, 1, 7, 9, tzinfo=UTC))
    client.force_login(member.user)
    token_client = APIClient()
    token_client.force_authenticate(member.user)

    by_session = client.get("/api/v1/bookings/").json()["results"][0]
    by_token = token_client.get("/api/v1/bookings/").json()["results"][0]

    assert by_session == by_token
    assert datetime.fromisoformat(by_session["start"]) == datetime(2030, 1, 7, 9, tzinfo=UTC)
