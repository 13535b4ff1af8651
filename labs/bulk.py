"""Fast bulk inserts for tables written thousands of rows at a time (imported history, analytics snapshots).

Django's ``bulk_create`` prepares every value through its field and, on SQLite, splits a batch into statements of a
few dozen rows (the parameter limit); for plain rows that costs several times the database's own work. Here one
parameterised INSERT runs with ``executemany`` per batch, each value adapted once by its field's type. The caller
gives every concrete column (``instance_row`` reads them off an unsaved instance, defaults included); no signals, no
primary keys returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def instance_row(obj) -> dict:
    """A model instance as ``bulk_insert`` takes it: every concrete column but the primary key, by attribute name."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.primary_key}


def bulk_insert(model, rows: Sequence[dict], *, batch: int = 2000) -> None:
    """INSERT many rows of ``model`` (dicts by attribute name; every concrete column but the primary key) with one
    executemany per batch: the ORM's bulk_create prepares each value through its field, which costs more than the
    database's work for snapshot tables of thousands of plain numbers. Values are adapted by their field's type."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    ops = connection.ops
    adapt = []
    for field in fields:
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            adapt.append(ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapt.append(ops.adapt_datefield_value)
        elif kind in {"JSONField", "UUIDField"}:
            adapt.append(lambda value, field=field: field.get_db_prep_save(value, connection))
        else:
            adapt.append(None)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    statement = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    values = []
    for row in rows:
        values.append([row[f.attname] if a is None else a(row[f.attname]) for f, a in zip(fields, adapt, strict=True)])
    with connection.cursor() as cursor:
        for start in range(0, len(values), batch):
            cursor.executemany(statement, values[start : start + batch])
