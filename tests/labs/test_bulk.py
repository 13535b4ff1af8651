"""labs.bulk.insert_returning: one INSERT for thousands of rows, primary keys back in row order, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from comfort.models import Command
from labs import bulk
from labs.models import OutboxMessage
from tests.comfort.factories import DeskFactory, DeviceFactory

pytestmark = pytest.mark.django_db


def test_rows_come_back_in_order_with_their_values_and_the_fields_defaults():
    at = timezone.now().replace(microsecond=0)
    topics = [f"labs/v1/cph/desk/d{n}/desired" for n in range(250)]
    ids = bulk.insert_returning(
        OutboxMessage,
        {"topic": topics, "payload": [{"v": n, "nested": {"ok": n % 2 == 0}} for n in range(250)]},
        same={"retain": True, "created_at": at},
    )

    assert len(ids) == 250
    rows = {m.pk: m for m in OutboxMessage.objects.filter(pk__in=ids)}
    for n, pk in enumerate(ids):  # the n-th id is the n-th row
        assert rows[pk].topic == topics[n]
        assert rows[pk].payload == {"v": n, "nested": {"ok": n % 2 == 0}}
        assert rows[pk].retain is True
        assert rows[pk].created_at == at
        assert (rows[pk].qos, rows[pk].attempts, rows[pk].last_error, rows[pk].sent_at) == (1, 0, "", None)


def test_a_callable_default_is_called_per_row_and_nullable_columns_stay_null():
    devices = [DeviceFactory(desk=DeskFactory()) for _ in range(3)]
    at = timezone.now()
    ids = bulk.insert_returning(
        Command,
        {
            "device_id": [d.pk for d in devices],
            "version": [1, 2, 3],
            "desired": [{"height_mm": 700 + n} for n in range(3)],
            "valid_until": [None, at + dt.timedelta(hours=1), None],
        },
        same={"reason": {"type": "test"}, "issued_at": at, "queued_at": at},
    )

    commands = [Command.objects.get(pk=pk) for pk in ids]
    assert [c.device_id for c in commands] == [d.pk for d in devices]
    assert [c.desired["height_mm"] for c in commands] == [700, 701, 702]
    assert len({c.cmd_id for c in commands}) == 3  # uuid4 per row, not one shared value
    assert [c.valid_until is None for c in commands] == [True, False, True]
    assert all(c.state == "queued" and c.sent_at is None and c.result_detail == "" for c in commands)


def test_bad_calls_are_refused_before_any_row_is_written():
    with pytest.raises(ValueError, match="one value per row"):
        bulk.insert_returning(OutboxMessage, {"topic": ["a", "b"], "payload": [{}]})
    with pytest.raises(ValueError, match="no column"):
        bulk.insert_returning(OutboxMessage, {"topic": ["a"], "payload": [{}], "colour": ["red"]})
    assert bulk.insert_returning(OutboxMessage, {"topic": [], "payload": []}) == []
    assert not OutboxMessage.objects.exists()
