"""Devices' rows are rewritten by every report, status and desired document: their pages keep room for HOT updates."""

from __future__ import annotations

import pytest
from django.db import connection

from comfort.models import Device

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL storage parameter"),
]


def test_the_device_table_leaves_half_of_each_page_free():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Device._meta.db_table])
        [options] = cursor.fetchone()
    assert "fillfactor=50" in options
