"""No overlap, enforced by PostgreSQL: three exclusion constraints over half-open ranges (btree_gist).

Holding statuses are confirmed, checked_in and completed (bookings.choices.HOLDING_STATUSES). The resource is held
over [start, hold_end), where hold_end = end + the room's buffer; one person may hold one desk at a time over
[start, end). These exist only on PostgreSQL: on SQLite the operations do nothing and the services check inside an
IMMEDIATE transaction. They are not in the model state on purpose (see bookings/models.py).
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

HOLDING = "('confirmed', 'checked_in', 'completed')"

CONSTRAINTS = {
    "booking_room_no_overlap": (
        "room_id WITH =, tstzrange(\"start\", hold_end, '[)') WITH &&",
        f"room_id IS NOT NULL AND status IN {HOLDING}",
    ),
    "booking_desk_no_overlap": (
        "desk_id WITH =, tstzrange(\"start\", hold_end, '[)') WITH &&",
        f"desk_id IS NOT NULL AND status IN {HOLDING}",
    ),
    "booking_person_one_desk_at_a_time": (
        "organiser_id WITH =, tstzrange(\"start\", \"end\", '[)') WITH &&",
        f"desk_id IS NOT NULL AND status IN {HOLDING}",
    ),
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (elements, condition) in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE bookings_booking ADD CONSTRAINT {name} EXCLUDE USING gist ({elements}) WHERE ({condition})"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0002_booking_rules_series_feed"),
    ]

    operations = [
        BtreeGistExtension(),  # does nothing on other databases
        migrations.RunPython(add_constraints, drop_constraints, elidable=False),
    ]
