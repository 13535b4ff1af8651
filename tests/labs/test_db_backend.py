"""labs.backends.postgresql: the health check needs no round trip while a connection is quiet, and still replaces a
connection PostgreSQL has ended."""

from __future__ import annotations

import time
from unittest import mock

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _new_request() -> None:
    """What Django does between two requests on a kept connection (request_started, then the first query)."""
    close_old_connections()


def test_the_backend_is_ours_with_health_checks_on():
    assert settings.DATABASES["default"]["ENGINE"] == "labs.backends.postgresql"
    assert connection.vendor == "postgresql" and connection.health_check_enabled


def test_a_quiet_connection_is_reused_without_a_select_1():
    first = _backend_pid()
    _new_request()
    with mock.patch.object(type(connections["default"]), "is_usable", autospec=True, return_value=True) as is_usable:
        assert _backend_pid() == first
    is_usable.assert_not_called()


def test_a_connection_postgresql_ended_is_replaced_at_the_next_request():
    ended = _backend_pid()
    url = settings.DATABASES["default"]
    with psycopg.connect(
        host=url["HOST"] or None, port=url["PORT"] or None, user=url["USER"], dbname=url["NAME"], autocommit=True
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [ended]).fetchone()[0] is True
    deadline = time.monotonic() + 5
    while connection._quiet() and time.monotonic() < deadline:  # until the server's goodbye arrives
        time.sleep(0.01)
    _new_request()
    assert _backend_pid() != ended  # no error: the dead connection was closed and a new one opened


def test_a_bulk_create_past_65535_parameters_is_sent_in_batches():
    from labs.models import OutboxMessage

    fields = [f for f in OutboxMessage._meta.concrete_fields if not f.primary_key]
    count = 65_535 // len(fields) + 100  # one statement would carry more parameters than PostgreSQL takes
    assert connection.features.max_query_params == 65_535
    assert connection.ops.bulk_batch_size(fields, range(count)) == 65_535 // len(fields)
    OutboxMessage.objects.bulk_create(
        OutboxMessage(topic=f"labs/v1/s/desk/d{n}/desired", payload={"n": n}, qos=1, retain=True) for n in range(count)
    )
    assert OutboxMessage.objects.count() == count
    assert len(OutboxMessage.objects.in_bulk(list(OutboxMessage.objects.values_list("pk", flat=True)))) == count
    OutboxMessage.objects.all().delete()


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_matching_a_list_is_planned_with_the_list_and_others_are_prepared():
    """``__any`` statements stay unprepared (a generic plan cannot hash the list: labs/lookups.py); the rest are
    prepared once the connection has run them DATABASE_PREPARE_THRESHOLD times."""
    from labs.models import OutboxMessage

    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    for n in range(threshold + 2):
        list(OutboxMessage.objects.filter(id__any=[n, n + 1, n + 2]).values_list("pk", flat=True))
        list(OutboxMessage.objects.filter(topic="labs/v1/prepared-probe").values_list("pk", flat=True))
    statements = _prepared_statements()
    assert any('"topic" = $1' in s for s in statements), statements
    assert not any("= ANY(" in s for s in statements), statements
    # psycopg's own choice is left alone when a caller states it (labs.bulk passes prepare=None or False)
    with connection.cursor() as cursor:
        cursor.cursor.execute('SELECT 1 FROM "labs_outboxmessage" WHERE "id" = ANY(%s::bigint[])', [[1]], prepare=True)
    assert any("= ANY(" in s for s in _prepared_statements())
