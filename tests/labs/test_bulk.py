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


def _created_commands(count: int) -> tuple[list[Command], dt.datetime]:
    devices = [DeviceFactory(desk=DeskFactory()) for _ in range(count)]
    at = timezone.now()
    created = bulk.create_many(
        Command,
        {"device_id": [d.pk for d in devices], "version": list(range(1, count + 1))},
        same={"desired": {"height_mm": 720}, "reason": {"type": "test"}, "issued_at": at, "queued_at": at},
    )
    return created, at


def test_created_instances_are_what_loading_them_from_the_database_gives():
    created, at = _created_commands(3)

    for instance in created:
        loaded = Command.objects.get(pk=instance.pk)
        assert type(instance) is Command
        assert {k: v for k, v in vars(instance).items() if k != "_state"} == {
            k: v for k, v in vars(loaded).items() if k != "_state"
        }
        assert (instance._state.adding, instance._state.db) == (False, loaded._state.db)
        assert instance.device.pk == instance.device_id  # relations load as on any instance
        instance.state = "sent"
        instance.save(update_fields=["state"])  # and it saves as an UPDATE of its row
        assert Command.objects.get(pk=instance.pk).state == "sent"


def test_created_instances_go_through_model_init_when_someone_listens_to_it():
    from django.db.models.signals import post_init

    inits = []

    def listener(sender, instance, **kwargs):
        inits.append(instance.pk)

    post_init.connect(listener, sender=Command)
    try:
        created, _ = _created_commands(2)
    finally:
        post_init.disconnect(listener, sender=Command)
    # (elsewhere than PostgreSQL bulk_create's own unsaved instances come first, with no primary key)
    assert [pk for pk in inits if pk is not None] == [c.pk for c in created]
