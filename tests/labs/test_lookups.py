"""``field__any``: the answers of ``field__in`` with the list as one parameter (labs/lookups.py), on both backends."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comfort.choices import CommandState
from comfort.models import Command
from labs import bulk
from labs.models import OutboxMessage
from tests.comfort.factories import DeskFactory, DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def commands():
    devices = [DeviceFactory(desk=DeskFactory()) for _ in range(3)]
    at = timezone.now()
    return bulk.create_many(
        Command,
        {"device_id": [d.pk for d in devices], "version": [1, 1, 1], "desired": [{"height_mm": 700}] * 3},
        same={"reason": {"type": "test"}, "issued_at": at, "queued_at": at},
    )


def both(queryset_for):
    """The pks ``__in`` and ``__any`` answer for the same values."""
    return (
        sorted(queryset_for("in").values_list("pk", flat=True)),
        sorted(queryset_for("any").values_list("pk", flat=True)),
    )


def test_the_same_rows_as_in_for_ids_uuids_strings_and_relations(commands):
    first, second, third = commands
    cases = [
        lambda lk: Command.objects.filter(**{f"pk__{lk}": [first.pk, third.pk]}),
        lambda lk: Command.objects.filter(**{f"cmd_id__{lk}": [second.cmd_id, uuid.uuid4()]}),
        lambda lk: Command.objects.filter(**{f"cmd_id__{lk}": [str(third.cmd_id)]}),  # a UUID given as text
        lambda lk: Command.objects.filter(**{f"device_id__{lk}": {first.device_id, second.device_id}}),
        lambda lk: Command.objects.filter(**{f"state__{lk}": [CommandState.QUEUED, "sent"]}),
        lambda lk: Command.objects.exclude(**{f"pk__{lk}": [second.pk]}),
    ]
    expected = [
        sorted([first.pk, third.pk]),
        [second.pk],
        [third.pk],
        sorted([first.pk, second.pk]),
        sorted(c.pk for c in commands),
        sorted([first.pk, third.pk]),
    ]
    for case, rows in zip(cases, expected, strict=True):
        assert both(case) == (rows, rows)


def test_an_empty_list_or_only_none_matches_nothing(commands):
    assert both(lambda lk: Command.objects.filter(**{f"pk__{lk}": []})) == ([], [])
    assert both(lambda lk: Command.objects.filter(**{f"pk__{lk}": [None]})) == ([], [])
    assert both(lambda lk: Command.objects.filter(**{f"pk__{lk}": [None, commands[0].pk]})) == (
        [commands[0].pk],
        [commands[0].pk],
    )


def test_updates_and_row_locks_take_it(commands):
    ids = [c.pk for c in commands[:2]]
    assert Command.objects.filter(pk__any=ids).update(attempts=3) == 2
    assert list(
        Command.objects.select_for_update().filter(pk__any=ids).order_by("pk").values_list("attempts", flat=True)
    ) == [
        3,
        3,
    ]


def test_a_subquery_is_an_in_subquery(commands):
    inner = Command.objects.filter(state=CommandState.QUEUED).values("device_id")
    assert both(lambda lk: Command.objects.filter(**{f"device_id__{lk}": inner})) == (
        sorted(c.pk for c in commands),
        sorted(c.pk for c in commands),
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes ANY; elsewhere __any is __in")
def test_postgresql_statement_text_is_the_same_whatever_the_count():
    def sql(values):
        with CaptureQueriesContext(connection) as queries:
            list(OutboxMessage.objects.filter(id__any=values))
        return queries[0]["sql"]

    short, long = sql([1, 2]), sql(list(range(5000)))
    assert "= ANY(" in short
    # the values travel as one array parameter: strip it and the two statements are one
    assert short.split("ANY(")[0] == long.split("ANY(")[0]
    assert len(long) < len(short) + 5 * 5000 * 2  # no placeholder per value


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the 65,535 parameters of a server-bound statement")
def test_postgresql_takes_more_values_than_a_statement_has_parameters(commands):
    values = [*range(10**9, 10**9 + 70_000), commands[1].pk]
    assert list(Command.objects.filter(pk__any=values).values_list("pk", flat=True)) == [commands[1].pk]
