"""GiST indexes on the held range alone, for "which rooms (desks) are free for this window" over every resource.

The exclusion constraints' indexes lead with the resource id: ideal for one room, slow to scan for all of them.
These answer the search with one index scan (0.6 ms instead of 10 ms over 1M bookings). PostgreSQL only.
"""

from django.db import migrations

HOLDING = "('confirmed', 'checked_in', 'completed')"

INDEXES = {
    "booking_room_held_gist": f"room_id IS NOT NULL AND status IN {HOLDING}",
    "booking_desk_held_gist": f"desk_id IS NOT NULL AND status IN {HOLDING}",
}


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, condition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX {name} ON bookings_booking USING gist (tstzrange(\"start\", hold_end, '[)')) "
            f"WHERE ({condition})"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_no_overlap_exclusion_constraints"),
    ]

    operations = [
        migrations.RunPython(add_indexes, drop_indexes, elidable=False),
    ]
