"""Fast bulk inserts for tables written thousands of rows at a time (imported history, analytics snapshots).

Django's ``bulk_create`` prepares every value through its field and, on SQLite, splits a batch into statements of a
few dozen rows (the parameter limit); for plain rows that costs several times the database's own work. Here one
parameterised INSERT runs with ``executemany`` per batch, each value adapted once by its field's type. The caller
gives every concrete column (``instance_row`` reads them off an unsaved instance, defaults included); no signals, no
primary keys returned.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


def instance_row(obj) -> dict:
    """A model instance as ``bulk_insert`` takes it: every concrete column but the primary key, by attribute name."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.primary_key}


def bulk_insert(model, rows: Sequence[dict], *, batch: int = 2000) -> None:
    """INSERT many rows of ``model`` (dicts by attribute name; every concrete column but the primary key) with one
    executemany per batch: the ORM's bulk_create prepares each value through its field, which costs more than the
    database's work for snapshot tables of thousands of plain numbers. Values are adapted by their field's type."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    db = _database()
    ops = db.ops
    adapt = []
    for field in fields:
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            adapt.append(ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapt.append(ops.adapt_datefield_value)
        elif kind in {"JSONField", "UUIDField"}:
            adapt.append(lambda value, field=field, db=db: field.get_db_prep_save(value, db))
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


# Field types whose Python values psycopg adapts as they are (no field preparation needed in the arrays).
_PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "FloatField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
    "UUIDField",
}


def insert_returning(model, columns: dict[str, Sequence], *, same: dict | None = None) -> list[int]:
    """INSERT ``len(next(iter(columns.values())))`` rows of ``model`` and return their primary keys in row order.

    ``columns``: a sequence of values per attribute name (one per row); ``same``: values shared by every row. Concrete
    fields given in neither take their Python default (a callable default, such as ``uuid4``, is called per row), or
    NULL. No signals, no ``save()``; values are prepared by their field (JSON, UUID, dates).

    On PostgreSQL this is one statement whatever the row count: ``INSERT ... SELECT FROM unnest(array, ...)`` with one
    typed array per varying column, so its cost is the database's, not the building and binding of N x C parameters
    that ``bulk_create`` does (for 10,000 rows of a wide table ~1.4 s of Python). Elsewhere it is ``bulk_create``."""
    pks, _, _ = _insert(model, columns, same)
    return pks


def create_many(model, columns: dict[str, Sequence], *, same: dict | None = None) -> list:
    """:func:`insert_returning`, answered with the saved instances (every concrete field set, as loaded from the
    database; relations not fetched)."""
    pks, columns, same = _insert(model, columns, same)
    names = [f.attname for f in model._meta.concrete_fields]
    pk_name = model._meta.pk.attname
    db = connection.alias
    listened = pre_init.has_listeners(model) or post_init.has_listeners(model)  # then through Model.__init__
    instances = []
    for n, pk in enumerate(pks):
        values = []
        for name in names:
            if name == pk_name:
                values.append(pk)
            elif name in columns:
                values.append(columns[name][n])
            else:
                values.append(same.get(name))
        instances.append(model.from_db(db, names, values) if listened else _loaded(model, db, names, values))
    return instances


def _loaded(model, db: str, names: list[str], values: list):
    """``model.from_db(db, names, values)`` for a model nobody listens to the init signals of: the attributes set
    directly, without ``Model.__init__``'s walk of the fields (a third of the time; 10,000 commands of a fan-out)."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = db
    instance._state = state
    return instance


def _insert(model, columns: dict[str, Sequence], same: dict | None) -> tuple[list[int], dict, dict]:
    """The work of :func:`insert_returning`; also returns the columns and shared values with the defaults filled."""
    same = dict(same or {})
    if not columns:
        raise ValueError("at least one column varies per row")
    count = len(next(iter(columns.values())))
    if any(len(values) != count for values in columns.values()):
        raise ValueError("every column needs one value per row")
    if count == 0:
        return [], dict(columns), same
    fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
    unknown = (set(columns) | set(same)) - set(fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    columns = dict(columns)
    for name, field in fields.items():
        if name in columns or name in same:
            continue
        if field.has_default() and callable(field.default):
            columns[name] = [field.get_default() for _ in range(count)]
        elif field.has_default() or not field.null:
            same[name] = field.get_default()
    if connection.vendor != "postgresql":
        rows = [model(**same, **{name: values[n] for name, values in columns.items()}) for n in range(count)]
        return [obj.pk for obj in model.objects.bulk_create(rows)], columns, same
    quote = connection.ops.quote_name
    varying = list(columns)
    constant = list(same)
    params = []
    for name in varying:
        field = fields[name]
        params.append(_prepared(field, columns[name]))
    for name in constant:
        params.append(fields[name].get_db_prep_save(same[name], connection))
    arrays = ", ".join(f"%b::{fields[name].db_type(connection)}[]" for name in varying)
    aliases = [f"c{n}" for n in range(len(varying))]
    selected = aliases + [f"%b::{fields[name].db_type(connection)}" for name in constant]
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(fields[n].column) for n in varying + constant)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} FROM unnest({arrays}) WITH ORDINALITY AS u({', '.join(aliases)}, ord) "
        f"ORDER BY ord RETURNING {quote(model._meta.pk.column)}"
    )
    # The constants' placeholders come first in the statement text (SELECT list), the arrays after (FROM).
    ids = [row[0] for row in execute_binary(statement, params[len(varying) :] + params[: len(varying)])]
    # The rows are produced in ``ord`` order, so their sequence values rise with it: sorted, the ids are in row order
    # whatever order RETURNING lists them in.
    return sorted(ids), columns, same


def update_columns(model, pks: Sequence[int], columns: dict[str, Sequence]) -> int:
    """Set, for each primary key in ``pks``, its own values of ``columns`` (attribute name -> one value per key).

    PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` whatever the row count (Django's ``bulk_update`` builds a CASE
    with a branch per row per field). Elsewhere one UPDATE per row. Lock the rows first, in primary-key order, where
    others may write them. Returns how many rows were updated."""
    if any(len(values) != len(pks) for values in columns.values()):
        raise ValueError("every column needs one value per row")
    if not pks or not columns:
        return 0
    fields = {name: model._meta.get_field(name) for name in columns}
    if connection.vendor != "postgresql":
        return sum(
            model.objects.filter(pk=pk).update(**{name: values[n] for name, values in columns.items()})
            for n, pk in enumerate(pks)
        )
    quote = connection.ops.quote_name
    pk_field = model._meta.pk
    names = list(columns)
    aliases = [f"c{n}" for n in range(len(names))]
    arrays = ", ".join(
        [f"%b::{pk_field.db_type(connection)}[]"] + [f"%b::{fields[name].db_type(connection)}[]" for name in names]
    )
    assignments = ", ".join(
        f"{quote(fields[name].column)} = u.{alias}" for name, alias in zip(names, aliases, strict=True)
    )
    params = [list(pks)] + [_prepared(fields[name], columns[name]) for name in names]
    table = quote(model._meta.db_table)
    statement = (
        f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS u(pk, {', '.join(aliases)}) "  # noqa: S608
        f"WHERE {table}.{quote(pk_field.column)} = u.pk"
    )
    return execute_binary(statement, params, rows=False)


def _prepared(field, values: Sequence) -> list:
    """``values`` as the driver takes them: as they are for plain types and for aware datetimes (or None), which
    Django would pass through unchanged; through the field otherwise (JSON, naive datetimes, dates, decimals)."""
    kind = field.get_internal_type()
    if kind in _PLAIN or (kind == "DateTimeField" and all(v is None or getattr(v, "tzinfo", None) for v in values)):
        return list(values)
    db = _database()
    return [field.get_db_prep_save(value, db) for value in values]


def _database():
    """Django's connection itself. ``django.db.connection`` is a proxy: every attribute read on it looks up this
    thread's connection (an asgiref Local), and a JSON field's preparation reads it once per value, which in the
    fan-out cost more than the JSON encoding (py-spy)."""
    return connections[DEFAULT_DB_ALIAS]


def execute_binary(statement: str, params: list, *, rows: bool = True):
    """Run ``statement`` (``%b`` placeholders) with its parameters sent apart from the SQL, in binary, on Django's
    connection and transaction. Django's psycopg cursors bind client-side: every array would be written out as one
    quoted and escaped literal, which for 10,000 JSON documents costs three times the insert itself. The statement
    is logged like any other where queries are being recorded (tests' query budgets, DEBUG).

    A statement whose text does not change with the row count (arrays, not one placeholder per value) is prepared
    by the server like Django's own statements when the project uses prepared statements
    (``DATABASE_PREPARED_STATEMENTS``); without them, never (PgBouncer in transaction mode, docs/scaling.md)."""
    import psycopg

    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        prepare = None if connection.features.uses_server_side_binding else False  # None: the connection's threshold
        cursor.execute(statement, params, prepare=prepare)
        answer = cursor.fetchall() if rows else cursor.rowcount
    if connection.queries_logged:
        connection.queries_log.append({"sql": statement, "time": f"{time.monotonic() - started:.3f}"})
    return answer
