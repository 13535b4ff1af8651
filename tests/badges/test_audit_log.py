"""The audit log is append-only: the model, the queryset and the database (triggers) all refuse to rewrite it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from badges import services
from badges.models import AccessDecision, AuditLogImmutable
from tests.badges.conftest import decide

pytestmark = pytest.mark.django_db

TABLE = AccessDecision._meta.db_table


@pytest.fixture
def row(main_reader):
    return AccessDecision.objects.get(pk=decide(main_reader, "not a code").audit_id)


def _sql(statement: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_the_model_refuses_to_save_an_existing_row(row):
    row.allow = True
    with pytest.raises(AuditLogImmutable):
        row.save()
    with pytest.raises(AuditLogImmutable):
        row.save(update_fields=["allow"])


def test_the_model_refuses_to_delete_a_row(row):
    with pytest.raises(AuditLogImmutable):
        row.delete()


def test_the_queryset_refuses_update_and_delete(row):
    with pytest.raises(AuditLogImmutable):
        AccessDecision.objects.filter(pk=row.pk).update(allow=True)
    with pytest.raises(AuditLogImmutable):
        AccessDecision.objects.all().delete()
    row.refresh_from_db()
    assert (row.allow, row.reason) == (False, "unknown")


def test_the_database_refuses_an_update(row):
    with pytest.raises(DatabaseError, match="append-only"):
        _sql(f"UPDATE {TABLE} SET allow = %s WHERE id = %s", [True, row.pk])  # noqa: S608
    row.refresh_from_db()
    assert row.allow is False


def test_the_database_refuses_a_delete(row):
    with pytest.raises(DatabaseError, match="DELETE refused"):
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [row.pk])  # noqa: S608
    assert AccessDecision.objects.filter(pk=row.pk).exists()


def test_the_retention_purge_deletes_only_rows_past_a_year(row, main_reader):
    old = AccessDecision.objects.create(
        at=timezone.now() - timedelta(days=400), channel="http", reader_ref="cph-main", credential_type="qr",
        allow=False, reason="unknown",
    )  # fmt: skip
    assert services.access_decisions_purge() == 1
    assert not AccessDecision.objects.filter(pk=old.pk).exists()
    assert AccessDecision.objects.filter(pk=row.pk).exists()


def test_the_triggers_exist_on_this_database():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
        names = {name for (name,) in cursor.fetchall()}
    assert names, "no append-only trigger on the audit table"


@pytest.mark.postgres
def test_postgresql_trigger_refuses_update_and_delete(row):
    assert settings.USES_POSTGRES
    with pytest.raises(DatabaseError, match="append-only"):
        _sql(f"UPDATE {TABLE} SET reason = 'ok' WHERE id = %s", [row.pk])  # noqa: S608
    with pytest.raises(DatabaseError, match="DELETE refused"):
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [row.pk])  # noqa: S608
    row.refresh_from_db()
    assert row.reason == "unknown"


@pytest.mark.postgres
def test_a_decision_commits_durably_even_on_an_asynchronous_connection(main_reader):
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")  # as the MQTT bridge's connection does
    with CaptureQueriesContext(connection) as queries:
        decide(main_reader, "not a code")
    statements = [q["sql"] for q in queries.captured_queries]
    assert "SET LOCAL synchronous_commit TO on" in statements
    assert statements.index("SET LOCAL synchronous_commit TO on") < next(
        i for i, sql in enumerate(statements) if "INSERT" in sql
    )
