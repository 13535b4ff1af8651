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

from bookings import selectors as booking_selectors
from comfort.choices import CommandState
from comfort.models import Command
from tests.bookings.factories import RoomFactory
from tests.comfort.factories import PreferenceFactory

# was 39 (auth 3 → 1; a desk, an HVAC and a fan written together: 9 → 3 on PostgreSQL, 5 on SQLite), then 31:
# the check-in reads what stands around the desk once (4 → 1), the desk frame comes locked with its occupant (2 → 1)
CHECK_IN_MAX_QUERIES = {"postgresql": 28, "sqlite": 29}
# was 8 (auth 3 → 1): token, room, overlap check, insert, savepoints; 6 → 7 with the site's closure days (rule closed);
# on PostgreSQL 6 → 5: the closure days come with the room (bookings.selectors.bookable_get)
BOOKING_CREATE_MAX_QUERIES = {"postgresql": 5, "sqlite": 7}


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
    with django_assert_max_num_queries(BOOKING_CREATE_MAX_QUERIES[connection.vendor]):
        response = token_client.post("/api/v1/bookings/", body, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.postgres
@pytest.mark.parametrize("scene", ["nobody", "occupant_with_preference", "occupant_without", "early_check_in"])
def test_the_hand_written_desk_frame_read_answers_as_the_orm_does(scene, member, colleague, desk, devices):
    """comfort.services._lock_desk_frame (PostgreSQL's hand-written statement on the check-in's path) against the ORM's
    annotated queryset it replaces: the same frame, the same occupant end and sitting height, in every scene."""
    from django.db import transaction
    from django.db.models import Q

    from bookings.choices import BookingStatus
    from comfort import services
    from comfort.choices import DeviceKind
    from tests.bookings.factories import BookingFactory

    at = timezone.now()

    def checked_in(person, start, end, checked_in_at=None):
        return BookingFactory(
            room=None,
            desk=desk,
            organiser=person,
            start=start,
            end=end,
            hold_end=end,
            status=BookingStatus.CHECKED_IN,
            checked_in_at=checked_in_at or start,
        )

    if scene == "occupant_with_preference":
        PreferenceFactory(person=member, desk_sit_height_mm=1010)
        checked_in(member, at - timedelta(hours=1), at + timedelta(hours=1))
    elif scene == "occupant_without":
        checked_in(member, at - timedelta(hours=1), at + timedelta(hours=2))
    elif scene == "early_check_in":  # the next one checked in before this one ended: the one that started first
        Command.objects.create(  # and an open command
            device=devices["desk"],
            version=1,
            desired={"height_mm": 800},
            reason={},
            issued_at=at,
            queued_at=at,
            state=CommandState.SENT,
        )
        PreferenceFactory(person=colleague, desk_sit_height_mm=900)
        checked_in(colleague, at - timedelta(hours=2), at + timedelta(minutes=5))
        checked_in(member, at + timedelta(minutes=5), at + timedelta(hours=2), checked_in_at=at - timedelta(minutes=1))
    with transaction.atomic():
        by_hand = services._lock_desk_frame(desk_id=desk.pk, at=at)
        by_orm = services._lock_devices(Q(desk_id=desk.pk, kind=DeviceKind.DESK), occupant_at=at)
    assert [d.pk for d in by_hand] == [d.pk for d in by_orm] == [devices["desk"].pk]
    [hand], [orm] = by_hand, by_orm
    assert (hand.occupant_end, hand.occupant_sit_height_mm) == (orm.occupant_end, orm.occupant_sit_height_mm)
    occupant = booking_selectors.desk_checked_in_booking(desk=desk, at=at)  # the rule both restate
    assert hand.occupant_end == (occupant.end if occupant else None)
    assert hand.has_open_commands == orm.has_open_commands == (scene == "early_check_in")
    assert hand.topic("desired") == orm.topic("desired")
    expected = {
        "nobody": None,
        "occupant_with_preference": 1010,
        "occupant_without": 720,
        "early_check_in": 900,
    }[scene]
    assert (hand.occupant_sit_height_mm if hand.occupant_end else None) == expected
