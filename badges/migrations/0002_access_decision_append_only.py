"""The audit log is append-only in the database itself: triggers refuse UPDATE of any access decision and DELETE of
one younger than its retention (365 days), so no application code path can rewrite history. PostgreSQL and SQLite
each get their own triggers (the migration checks connection.vendor). TRUNCATE, a table owner's operation used by
test flushes, is not an application path and stays possible; see docs/badges.md.
"""

from django.db import migrations

TABLE = "badges_accessdecision"
RETENTION_DAYS = 365  # badges.models.AUDIT_RETENTION_DAYS at the time of writing

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION badges_accessdecision_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'access decisions are append-only: UPDATE refused' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.at > now() - interval '{RETENTION_DAYS} days' THEN
        RAISE EXCEPTION 'access decisions are kept {RETENTION_DAYS} days: DELETE refused'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER badges_accessdecision_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION badges_accessdecision_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS badges_accessdecision_append_only ON {TABLE};
DROP FUNCTION IF EXISTS badges_accessdecision_append_only();
"""

SQLITE_UP = [
    f"""CREATE TRIGGER badges_accessdecision_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, 'access decisions are append-only: UPDATE refused'); END;""",
    # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text, which compares in time order.
    f"""CREATE TRIGGER badges_accessdecision_no_delete BEFORE DELETE ON {TABLE}
    WHEN OLD.at > strftime('%Y-%m-%d %H:%M:%f', 'now', '-{RETENTION_DAYS} days')
    BEGIN SELECT RAISE(ABORT, 'access decisions are kept {RETENTION_DAYS} days: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS badges_accessdecision_no_update;",
    "DROP TRIGGER IF EXISTS badges_accessdecision_no_delete;",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("badges", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
