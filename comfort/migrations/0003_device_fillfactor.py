"""Devices' rows leave half of each page free (PostgreSQL), so their updates are heap-only (HOT).

Every report, status and desired document rewrites a device's row; none of those columns is indexed, but a row
moved to another page needs a new entry in each of the table's eight indexes. With room on its own page the new
version stays there and no index is touched: updating 1,000 devices' desired documents (a fan-out chunk) went
from 16-29 ms to 7 ms, every update HOT (EXPLAIN ANALYZE, bench/comfort.py's database). The table is small (a row
per device), so the doubled size costs little. Existing rows keep their pages until the table is rewritten
(``VACUUM FULL comfort_device``, which locks it: at a quiet hour); new pages follow the setting at once.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE comfort_device SET (fillfactor = 50)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE comfort_device RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("comfort", "0002_translatable_model_names")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
