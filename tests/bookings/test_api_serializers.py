"""The booking document the API sends is built directly (bookings/api/serializers.py), not field by field: it stays
exactly what DRF renders from the declared fields (which the schema shows), for every kind of booking."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from bookings import services
from bookings.api.serializers import BookingOutputSerializer, SeriesCreatedOutputSerializer
from bookings.choices import BookingSource, BookingStatus
from tests.bookings.conftest import local
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db


def _drf(serializer) -> dict:
    """What DRF's generic Serializer.to_representation makes of the declared and model fields."""
    return serializers.Serializer.to_representation(serializer, serializer.instance)


def _wire(document: dict) -> dict:
    return json.loads(JSONRenderer().render(document))


def _kinds(room, desk, member):
    start = local(2030, 1, 7, 9)
    plain = BookingFactory(room=room, organiser=member, start=start, title="Board", attendees=["a@example.com"])
    checked_in = BookingFactory(
        room=None,
        desk=desk,
        site=desk.site,
        organiser=member,
        start=start,
        end=start + timedelta(hours=8),
        hold_end=start + timedelta(hours=8),
        status=BookingStatus.CHECKED_IN,
        checked_in_at=start + timedelta(minutes=3, seconds=7, microseconds=123),
        source=BookingSource.PORTAL,
    )
    moved = BookingFactory(
        room=room, organiser=member, start=start + timedelta(days=1), is_moved=True, override_reason="All hands"
    )
    cancelled = BookingFactory(room=room, organiser=member, start=start + timedelta(days=2), status="cancelled")
    return [plain, checked_in, moved, cancelled]


def test_every_kind_of_booking_renders_as_drf_would(room, desk, member):
    for booking in _kinds(room, desk, member):
        serializer = BookingOutputSerializer(booking)
        assert serializer.data == _drf(BookingOutputSerializer(booking)), booking
        assert _wire(serializer.data) == _wire(_drf(BookingOutputSerializer(booking)))
        assert list(serializer.data) == BookingOutputSerializer.Meta.fields  # the schema's keys, in its order


def test_a_list_page_renders_each_row_as_drf_would(room, desk, member):
    bookings = _kinds(room, desk, member)
    many = BookingOutputSerializer(bookings, many=True).data
    assert many == [_drf(BookingOutputSerializer(b)) for b in bookings]


def test_a_series_renders_its_occurrences_and_skipped_dates_as_drf_would(frozen, room, member):
    result = services.booking_series_create(
        actor=member,
        room=room,
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 10),
        rrule="FREQ=WEEKLY;COUNT=3",
        title="Weekly",
    )
    serializer = SeriesCreatedOutputSerializer(result.bookings[0], context={"result": result})
    document = serializer.data
    assert document == _drf(SeriesCreatedOutputSerializer(result.bookings[0], context={"result": result}))
    assert document["series"] == result.series.pk and len(document["occurrences"]) == 3
    assert document["start"] == "2026-03-03T09:00:00+01:00"
