"""Unmet demand is counted where it happens, once per attempt, without any person: refused bookings (conflict,
rule) from every door and room searches that found nothing (API filter and portal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings import services
from bookings.models import DemandSignal
from labs.errors import Conflict, RuleViolation
from tests.bookings.conftest import local

pytestmark = pytest.mark.django_db


def _signals():
    return sorted(DemandSignal.objects.values_list("day", "hour", "size_band", "kind", "count"))


def test_a_refused_conflict_is_counted_once_with_the_wanted_hour_and_size(
    frozen, room, member, colleague, django_capture_on_commit_callbacks
):
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        services.booking_create(
            actor=colleague,
            room=room,
            start=local(2026, 3, 3, 10, 30),
            end=local(2026, 3, 3, 11, 30),
            attendees=["a@example.test", "b@example.test"],
        )

    assert _signals() == [(local(2026, 3, 3).date(), 10, "3-4", "conflict", 1)]


def test_a_broken_rule_is_counted(frozen, room, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuleViolation):
        services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 21), end=local(2026, 3, 3, 22))

    assert _signals() == [(local(2026, 3, 3).date(), 21, "1-2", "rule", 1)]


@pytest.mark.django_db(transaction=True)
def test_the_signal_survives_the_refused_transaction(frozen, room, member, colleague):
    """Outside any transaction (as the API and the portal call it) the count is written at once, after the refused
    booking's own transaction rolled back; twice refused, twice counted."""
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    for _ in range(2):
        with pytest.raises(Conflict):
            services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    assert not connection.in_atomic_block
    assert _signals() == [(local(2026, 3, 3).date(), 10, "1-2", "conflict", 2)]


def test_inside_a_transaction_that_rolls_back_nothing_is_counted(
    frozen, room, member, colleague, django_capture_on_commit_callbacks
):
    from django.db import transaction

    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict), transaction.atomic():
        services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    assert DemandSignal.objects.count() == 0


def test_a_successful_booking_runs_no_extra_query_and_records_nothing(frozen, room, member):
    with CaptureQueriesContext(connection) as queries:
        services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    assert not any("bookings_demandsignal" in q["sql"] for q in queries.captured_queries)
    assert DemandSignal.objects.count() == 0


def test_desk_refusals_are_not_room_demand(frozen, desk, member, colleague, django_capture_on_commit_callbacks):
    services.booking_create(actor=member, desk=desk, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        services.booking_create(actor=colleague, desk=desk, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    assert DemandSignal.objects.count() == 0


def test_the_api_counts_a_conflict(frozen, room, member_client, colleague_client, django_capture_on_commit_callbacks):
    body = {"room": room.pk, "start": "2026-03-03T10:00:00+01:00", "end": "2026-03-03T11:00:00+01:00"}
    assert member_client.post("/api/v1/bookings/", body, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert colleague_client.post("/api/v1/bookings/", body, format="json").status_code == 409

    assert _signals() == [(local(2026, 3, 3).date(), 10, "1-2", "conflict", 1)]


def test_an_api_room_search_that_finds_nothing_is_counted(
    frozen, room, member_client, site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.get(
            "/api/v1/rooms/",
            {
                "site": site.slug,
                "capacity_min": 12,
                "free_from": "2026-03-03T14:00:00+01:00",
                "free_to": "2026-03-03T15:00:00+01:00",
            },
        )
        found = member_client.get(
            "/api/v1/rooms/",
            {"capacity_min": 2, "free_from": "2026-03-03T14:00:00+01:00", "free_to": "2026-03-03T15:00:00+01:00"},
        )

    assert response.json()["count"] == 0
    assert found.json()["count"] == 1
    assert _signals() == [(local(2026, 3, 3).date(), 14, "9+", "empty_search", 1)]


def test_a_portal_room_search_that_finds_nothing_is_counted(
    frozen, room, member, client, django_capture_on_commit_callbacks
):
    client.force_login(member.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/rooms/", {"date": "2026-03-03", "start": "09:00", "end": "10:00", "capacity": 7})

    assert response.status_code == 200
    assert _signals() == [(local(2026, 3, 3).date(), 9, "5-8", "empty_search", 1)]


def test_the_portal_counts_a_refused_booking(
    frozen, room, member, colleague, client, django_capture_on_commit_callbacks
):
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    client.force_login(colleague.user)
    start = local(2026, 3, 3, 10)
    body = {"room": room.pk, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/book/", body, follow=True)

    assert "Not booked: It is already booked" in response.content.decode()
    assert _signals() == [(local(2026, 3, 3).date(), 10, "1-2", "conflict", 1)]
