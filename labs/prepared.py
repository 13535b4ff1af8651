"""Reads whose SQL is built once: the hot paths' ``get()`` of a row with its ``select_related`` rows, and their
small ``values_list()`` reads.

Every API request looks up its token with the user, the person, the person's site and company; every booking looks up
its room or desk with the site and the site's booking policy. Django builds a queryset's SQL anew on each run (the
joins, the columns of every related model): about half a millisecond of Python each, more than PostgreSQL then takes
to run the statement it already has prepared (``DATABASE_PREPARED_STATEMENTS``). A :class:`CompiledLookup` builds the
SQL once per database connection object and, on each call, runs it with the call's values and builds the instances
exactly as the queryset would (Django's ``ModelIterable``: the same ``from_db``, the same related populators, the
same converters); a :class:`CompiledRows` returns a ``values_list()`` queryset's rows as tuples, converted alike.

Its parameters are plain ``int``, ``str`` or ``date`` values (``pk=``, ``key=``, ``day=``): each is found in the
built SQL's parameters by a sentinel value passed through ``build`` (a date as the backend adapts it), so a lookup
that changes its value on the way (``contains`` wraps it in ``%``) is refused when first compiled instead of silently
matching something else.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from datetime import date, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

_PARAM_TYPES = (int, str, date)


def _adapt(connection, value):
    """A value as Django hands it to the database driver: a date as the backend stores dates (SQLite: text)."""
    return connection.ops.adapt_datefield_value(value) if type(value) is date else value


def columns(model: type[Model], alias: str) -> str:
    """``alias."col", ...``: every concrete column of ``model``, for hand-written SQL in place of ``alias.*``.

    A prepared statement (``DATABASE_PREPARED_STATEMENTS``) keeps the shape of its result: with ``alias.*`` a column
    added by a migration would change it, and every running process would fail that statement ("cached plan must
    not change result type") until it reconnected. Named columns keep it valid when columns are added."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


class _Compiled:
    """One connection's compiled form of a queryset: its SQL, its parameters with the call's values' positions, and
    what turns a row into what the queryset would give."""

    def __init__(self, queryset: QuerySet, sentinels: dict[str, object], alias: str):
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()  # also fills compiler.select, klass_info and annotation_col_map
        positions: dict[str, int] = {}
        for name, sentinel in sentinels.items():
            adapted = _adapt(compiler.connection, sentinel)
            found = [i for i, p in enumerate(params) if type(p) is type(adapted) and p == adapted]
            if len(found) != 1:
                raise ImproperlyConfigured(
                    f"compiled read: parameter {name!r} must reach the SQL unchanged and once (found {len(found)}x)"
                )
            positions[name] = found[0]
        select = compiler.select
        if compiler.has_composite_fields([column[0] for column in select]):
            raise ImproperlyConfigured("compiled read: composite fields are not supported")
        self.sql = sql
        self.params = tuple(params)
        self.positions = positions
        self.compiler = compiler
        self.col_count = compiler.col_count
        self.converters = compiler.get_converters([column[0] for column in select[0 : compiler.col_count]])
        klass_info = compiler.klass_info
        if klass_info is not None:  # a model queryset (ModelIterable's recipe)
            self.model: type[Model] = klass_info["model"]
            fields = klass_info["select_fields"]
            self.start, self.end = fields[0], fields[-1] + 1
            self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
            self.populators = get_related_populators(klass_info, select, alias)
            self.annotations = dict(compiler.annotation_col_map or {})

    def run(self, connection, values: dict, limit: int | None) -> list:
        params = list(self.params)
        for name, index in self.positions.items():
            params[index] = _adapt(connection, values[name])
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows


class _CompiledRead:
    """What both kinds share: the parameters' types, their sentinels, the compiled form per connection object."""

    def __init__(self, build: Callable[..., QuerySet], **params: type):
        for name, kind in params.items():
            if kind not in _PARAM_TYPES:
                raise ImproperlyConfigured(f"compiled read: {name!r} must be int, str or date, not {kind!r}")
        self._build = build
        self._types = params
        # Keyed by the connection object (one per thread and alias): a compiled query keeps its connection for the
        # converters, as Django's compiler does.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._model_cls: type[Model] | None = None

    def _sentinels(self) -> dict[str, object]:
        sentinels: dict[str, object] = {}
        for name, kind in self._types.items():
            tag = uuid.uuid4()
            if kind is int:
                sentinels[name] = -(tag.int % 2**61) - 2**61
            elif kind is date:  # a day in the first millennium no lookup of ours would ask for
                sentinels[name] = date(1, 1, 1) + timedelta(days=tag.int % 300_000)
            else:
                sentinels[name] = f"\u2063compiled:{name}:{tag.hex}"
        return sentinels

    def _queryset(self, queryset: QuerySet) -> QuerySet:
        raise NotImplementedError

    def _checked(self, values: dict) -> None:
        if values.keys() != self._types.keys():
            raise TypeError(f"takes {sorted(self._types)}, got {sorted(values)}")
        for name, value in values.items():
            if type(value) is not self._types[name]:  # bool is an int, a str subclass is not a str: no surprises
                raise TypeError(f"{name} must be {self._types[name].__name__}, not {type(value).__name__}")

    def _model(self) -> type[Model]:
        if self._model_cls is None:
            self._model_cls = self._build(**self._sentinels()).model
        return self._model_cls

    def _for(self, alias: str):
        connection = connections[alias]
        compiled = self._compiled.get(connection)
        if compiled is None:
            sentinels = self._sentinels()
            queryset = self._build(**sentinels)
            if not isinstance(queryset, QuerySet) or queryset._prefetch_related_lookups:
                raise ImproperlyConfigured("compiled read: build() must return a queryset without prefetches")
            compiled = _Compiled(self._queryset(queryset), sentinels, alias)
            self._compiled[connection] = compiled
        return connection, compiled


class CompiledLookup(_CompiledRead):
    """``build(**params)`` returns the queryset (filters, ``select_related``); :meth:`get` runs its SQL, built once
    per database connection object, with the given values.

    ``params`` name each parameter and its type (``int`` or ``str``)::

        TOKEN = CompiledLookup(lambda key: Token.objects.select_related("user").filter(key=key), key=str)
        token = TOKEN.get(key=key)  # Token.DoesNotExist, Token.MultipleObjectsReturned, as QuerySet.get()
    """

    def _queryset(self, queryset: QuerySet) -> QuerySet:
        if queryset._fields is not None:
            raise ImproperlyConfigured("CompiledLookup: build() must return a plain model queryset (not values())")
        return queryset[:2]

    def get(self, **values) -> Model:
        self._checked(values)
        model = self._model()
        alias = router.db_for_read(model)
        connection, compiled = self._for(alias)
        rows = compiled.run(connection, values, limit=2)
        if not rows:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(rows) > 1:
            raise model.MultipleObjectsReturned(f"get() returned more than one {model._meta.object_name}.")
        row = rows[0]
        instance = compiled.model.from_db(alias, compiled.init_list, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, instance)
        for attribute, position in compiled.annotations.items():
            setattr(instance, attribute, row[position])
        return instance


class CompiledRows(_CompiledRead):
    """``build(**params)`` returns a ``values_list()`` queryset; :meth:`rows` runs its SQL, built once per database
    connection object, and returns its rows as tuples, converted as the queryset converts them."""

    def _queryset(self, queryset: QuerySet) -> QuerySet:
        from django.db.models.query import ValuesListIterable

        if queryset._iterable_class is not ValuesListIterable:
            raise ImproperlyConfigured("CompiledRows: build() must return a values_list() queryset (not flat)")
        return queryset

    def rows(self, **values) -> list[tuple]:
        self._checked(values)
        connection, compiled = self._for(router.db_for_read(self._model()))
        return [tuple(row[: compiled.col_count]) for row in compiled.run(connection, values, limit=None)]
