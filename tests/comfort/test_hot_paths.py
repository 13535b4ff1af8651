"""Hot paths with their query counts pinned (docs/scaling.md "Hot paths"): token authentication, a desk check-in over
the API (with what runs after its commit: the desk and zone moved, the outbox row), a booking created over the API.
A change that adds queries to these paths fails here: look at docs/scaling.md before raising a number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from comfort.choices import CommandState
from comfort.models import Command
from tests.bookings.factories import RoomFactory
from tests.comfort.factories import PreferenceFactory

# was 39 (auth 3 → 1; a desk, an HVAC and a fan written together: 9 → 3 on PostgreSQL, 5 on SQLite)
CHECK_IN_MAX_QUERIES = {"postgresql": 31, "sqlite": 33}
BOOKING_CREATE_MAX_QUERIES = 6  # was 8 (auth 3 → 1): token, room, overlap check, insert, savepoints


@pytest.fixture
def token_client(member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member.user).key}")
    return client


def test_token_authentication_loads_the_person_and_site_with_the_user_in_one_query(member, token_client):
    with CaptureQueriesContext(connection) as queries:
        response = token_client.get("/api/v1/me/")
    assert response.status_code == 200, response.content
    first = queries.captured_queries[0]["sql"]
    assert '"authtoken_token"' in first and '"labs_person"' in first and '"labs_site"' in first
    rest = [q["sql"] for q in queries.captured_queries[1:]]
    assert not any(sql.startswith('SELECT "labs_person"') or sql.startswith('SELECT "auth_user"') for sql in rest)


def test_a_bad_token_is_still_refused(db, member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/v1/me/").status_code == 401


def test_a_desk_check_in_stays_within_its_query_budget(
    member, token_client, desk, devices, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    PreferenceFactory(person=member, desk_sit_height_mm=1010)
    with (
        django_assert_max_num_queries(CHECK_IN_MAX_QUERIES[connection.vendor]),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = token_client.post(f"/api/v1/desks/{desk.pk}/check-in/")
    assert response.status_code == 200, response.content
    # the work is all there: the desk, the HVAC and the fan each have their queued command
    assert set(Command.objects.filter(state=CommandState.QUEUED).values_list("device__kind", flat=True)) == {
        "desk",
        "hvac",
        "fan",
    }
    devices["desk"].refresh_from_db()
    assert devices["desk"].desired == {"height_mm": 1010}


def test_a_booking_create_stays_within_its_query_budget(site, member, token_client, django_assert_max_num_queries):
    room = RoomFactory(site=site)
    start = (timezone.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    body = {"room": room.pk, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "title": "t"}
    with django_assert_max_num_queries(BOOKING_CREATE_MAX_QUERIES):
        response = token_client.post("/api/v1/bookings/", body, format="json")
    assert response.status_code == 201, response.content
