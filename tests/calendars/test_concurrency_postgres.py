"""Both sides at once, on PostgreSQL: members book through the API while people at Google invite the room and the
room's calendar is synced from several workers. Afterwards no room is held twice, here or at the provider, and the
two sides agree."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from calendars import services
from calendars.models import RoomCalendar
from tests.calendars.google_support import ALICE, BOB, ROOM, live_bookings, local
from tests.factories import PersonFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OVERLAPS_SQL = """
    SELECT count(*) FROM bookings_booking a JOIN bookings_booking b
      ON a.id < b.id AND a.room_id = b.room_id AND a.start < b.hold_end AND b.start < a.hold_end
   WHERE a.status IN ('confirmed', 'checked_in', 'completed') AND b.status IN ('confirmed', 'checked_in', 'completed')
"""
SLOTS = [local(2026, 3, day, hour, minute) for day in (3, 4) for hour in (9, 10, 11) for minute in (0, 30)]


def _overlapping_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL)
        return cursor.fetchone()[0]


def _provider_overlaps(events) -> int:
    spans = sorted((e["start"]["dateTime"], e["end"]["dateTime"]) for e in events)
    return sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])


def test_no_room_is_held_twice_after_concurrent_writes_from_both_sides(linked, fake_google, fjord, site, company):
    tokens = [
        Token.objects.create(user=PersonFactory(site=site, company=company, user__username=f"racer{i}").user).key
        for i in range(6)
    ]
    barrier = threading.Barrier(len(tokens) + 3)
    errors: list[str] = []

    def member(index: int, token: str) -> None:
        rng = random.Random(index)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait(timeout=30)
            for _ in range(6):
                start = rng.choice(SLOTS)
                body = {
                    "room": fjord.pk,
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=rng.choice((30, 60)))).isoformat(),
                }
                status = client.post("/api/v1/bookings/", body, format="json").status_code
                if status not in {201, 409}:
                    errors.append(f"API answered {status}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    def colleague(index: int) -> None:
        rng = random.Random(100 + index)
        try:
            barrier.wait(timeout=30)
            for step in range(5):
                start = rng.choice(SLOTS)
                fake_google.user_event_create(
                    ALICE if index % 2 else BOB,
                    summary=f"Google {index}.{step}",
                    start=start,
                    end=start + timedelta(minutes=rng.choice((30, 60))),
                    rooms=(ROOM,),
                )
                services.calendar_sync_request(linked.pk, force=True)  # a notification, from this worker
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=member, args=(i, t)) for i, t in enumerate(tokens)]
    threads += [threading.Thread(target=colleague, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []

    services.calendars_reconcile()  # the periodic reconcile: both sides converge

    assert _overlapping_rows() == 0
    held = fake_google.live_events(ROOM)
    assert _provider_overlaps(held) == 0
    ours = sorted((b.start, b.end) for b in live_bookings(fjord))
    theirs = sorted((local_of(e["start"]), local_of(e["end"])) for e in held)
    assert ours == theirs and len(ours) > 3
    assert RoomCalendar.objects.get(pk=linked.pk).status == "ok"


def local_of(value: dict):
    from datetime import datetime

    return datetime.fromisoformat(value["dateTime"])
