"""Concurrent bookings through the real API stack against PostgreSQL: the exclusion constraints are the truth.

Each thread has its own Django test client and database connection, authenticates with its own API token and
waits at a barrier so that all requests reach the database at the same moment.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bookings import services
from bookings.models import Booking
from labs.errors import Conflict
from tests.bookings.conftest import CPH, local
from tests.bookings.factories import BookingFactory, DeskFactory, RoomFactory
from tests.factories import PersonFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/bookings/"
THREADS = 50

OVERLAPS_SQL = """
    SELECT count(*) FROM bookings_booking a JOIN bookings_booking b
      ON a.id < b.id
     AND ((a.room_id = b.room_id) OR (a.desk_id = b.desk_id))
     AND a.start < b.hold_end AND b.start < a.hold_end
   WHERE a.status IN ('confirmed', 'checked_in', 'completed')
     AND b.status IN ('confirmed', 'checked_in', 'completed')
"""


def _overlapping_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL)
        return cursor.fetchone()[0]


def _people(site, company, count):
    people = [PersonFactory(site=site, company=company, user__username=f"racer{i}") for i in range(count)]
    return [Token.objects.create(user=p.user).key for p in people]


def _race(requests: list[tuple[str, dict]]) -> list[tuple[int, dict]]:
    """POST every (token, body) from its own thread, all released at once; returns (status, json) in order."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, dict] | None] = [None] * len(requests)

    def run(index: int, token: str, body: dict) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait(timeout=30)
            response = client.post(URL, body, format="json")
            results[index] = (response.status_code, response.json() if response.content else {})
        except Exception as exc:  # noqa: BLE001 - a crash in a thread is a failed request, reported below
            results[index] = (599, {"error": repr(exc)})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, t, b)) for i, (t, b) in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


@pytest.fixture
def future():
    """10:00 local two days from now: the rules check against the real clock here (threads share no frozen time)."""
    day = timezone.now().astimezone(CPH).date() + timedelta(days=2)
    return local(day.year, day.month, day.day, 10)


def test_fifty_identical_requests_make_exactly_one_booking(site, company, floor, future):
    room = RoomFactory(site=site, floor=floor)
    tokens = _people(site, company, THREADS)
    body = {"room": room.pk, "start": future.isoformat(), "end": (future + timedelta(hours=1)).isoformat()}

    results = _race([(token, body) for token in tokens])

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: THREADS - 1}, results[:3]
    assert all(body["code"] == "conflict" for status, body in results if status == 409)
    assert Booking.objects.filter(room=room).count() == 1
    assert _overlapping_rows() == 0


def test_one_person_racing_for_two_desks_gets_one(site, company, floor, zone, future):
    desks = [DeskFactory(site=site, floor=floor, zone=zone, label=f"R-{i}") for i in range(10)]
    token = _people(site, company, 1)[0]
    end = (future + timedelta(hours=4)).isoformat()

    results = _race([(token, {"desk": d.pk, "start": future.isoformat(), "end": end}) for d in desks])

    assert Counter(s for s, _ in results) == {201: 1, 409: 9}
    assert Booking.objects.count() == 1


def _overlaps(a: dict, b: dict, buffers: dict[int, int]) -> bool:
    """The pure-Python model of the rule: same room, held intervals [start, end + buffer) intersect."""
    if a["room"] != b["room"]:
        return False
    a_hold = a["end"] + timedelta(minutes=buffers[a["room"]])
    b_hold = b["end"] + timedelta(minutes=buffers[b["room"]])
    return a["start"] < b_hold and b["start"] < a_hold


@pytest.mark.parametrize("seed", [7, 2026])
def test_random_concurrent_bookings_agree_with_a_pure_python_model(site, company, floor, future, seed):
    rng = random.Random(seed)
    rooms = [RoomFactory(site=site, floor=floor, name=f"R{i}", buffer_minutes=b) for i, b in enumerate([0, 0, 15])]
    buffers = {r.pk: r.buffer_minutes for r in rooms}
    tokens = _people(site, company, 40)
    wanted = []
    for _ in tokens:
        start = future + timedelta(minutes=15 * rng.randrange(0, 16))
        wanted.append(
            {"room": rng.choice(rooms).pk, "start": start, "end": start + timedelta(minutes=15 * rng.randint(1, 6))}
        )

    results = _race(
        [
            (token, {"room": w["room"], "start": w["start"].isoformat(), "end": w["end"].isoformat()})
            for token, w in zip(tokens, wanted, strict=True)
        ]
    )

    assert {s for s, _ in results} <= {201, 409}, [r for r in results if r[0] not in {201, 409}]
    accepted = [w for w, (s, _) in zip(wanted, results, strict=True) if s == 201]
    refused = [w for w, (s, _) in zip(wanted, results, strict=True) if s == 409]
    # The model: the accepted set never overlaps, and every refusal overlaps something accepted.
    assert not any(_overlaps(a, b, buffers) for i, a in enumerate(accepted) for b in accepted[i + 1 :])
    assert all(any(_overlaps(r, a, buffers) for a in accepted) for r in refused)
    stored = sorted((b.room_id, b.start, b.end) for b in Booking.objects.all())
    assert stored == sorted((w["room"], w["start"], w["end"]) for w in accepted)
    assert _overlapping_rows() == 0


def test_a_deadlock_between_two_overlapping_inserts_is_never_a_500(site, company, floor, member, future):
    """A holds [10, 11) uncommitted; B's [10:30, 11:30) waits for A; A then inserts [11, 11:30), waiting for B.

    PostgreSQL breaks the cycle by aborting one of them (40P01). If it is B, the service runs again, finds A's
    bookings committed and answers 409; if it is A, B's booking goes through. Never an error.
    """
    room = RoomFactory(site=site, floor=floor)
    a_inserted, b_waiting = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def a() -> None:
        try:
            with transaction.atomic():
                BookingFactory(room=room, organiser=member, start=future, end=future + timedelta(hours=1))
                a_inserted.set()
                b_waiting.wait(timeout=10)
                start = future + timedelta(hours=1)
                BookingFactory(room=room, organiser=member, start=start, end=start + timedelta(minutes=30))
            outcome["a"] = "committed"
        except OperationalError as exc:
            outcome["a"] = f"aborted: {exc.__cause__.sqlstate}"
        finally:
            connections.close_all()

    def b() -> None:
        a_inserted.wait(timeout=10)
        start = future + timedelta(minutes=30)
        try:
            services.booking_create(actor=member, room=room, start=start, end=start + timedelta(hours=1))
            outcome["b"] = "booked"
        except Conflict:
            outcome["b"] = "conflict"
        except Exception as exc:  # noqa: BLE001 - anything else is the failure this test is about
            outcome["b"] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    a_inserted.wait(timeout=10)
    time.sleep(0.5)  # B is now waiting for A's transaction inside the constraint check
    b_waiting.set()
    for thread in threads:
        thread.join(timeout=30)

    assert (outcome["a"], outcome["b"]) in {("committed", "conflict"), ("aborted: 40P01", "booked")}, outcome
    assert _overlapping_rows() == 0
