"""``field__any=[...]``: "is one of these values" with the whole list as one parameter.

``field__in=[...]`` writes one placeholder per value. For the lists the bridge and the fan-out pass (hundreds to
thousands of ids at a time) that costs three times over: Django prepares every value through ``In.process_rhs``,
psycopg rewrites the long statement text on every call (it caches only statements under 4 kB), and each distinct
length is a new statement for PostgreSQL to parse. It also stops at 65,535 values, the protocol's parameter count.
In the fan-out of bench/comfort.py those IN lists were a fifth of the publishing process's CPU (py-spy).

On PostgreSQL ``__any`` writes ``"column" = ANY(%s::type[])``: the statement text is the same whatever the count,
so psycopg and PostgreSQL prepare it once, and the array travels as one parameter. Elsewhere (SQLite) it is ``__in``.
The meaning is ``__in``'s: ``None`` values never match, an empty list matches nothing. Use it where a list may be
long; ``__in`` stays right for short literal lists and subqueries.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.lookups import In

# Field types whose Python values go to the driver as they are (ints, strings, UUIDs): no per-value preparation.
_PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallAutoField",
    "SmallIntegerField",
    "TextField",
}


class Any(In):
    lookup_name = "any"

    def get_prep_lookup(self):
        if not self.rhs_is_direct_value():
            return super().get_prep_lookup()  # a subquery or expression: plain IN
        values = [value for value in self.rhs if value is not None]
        field = self.lhs.output_field
        if field.get_internal_type() in _PLAIN and all(type(v) in (int, str) for v in values):
            return values
        return [field.get_prep_value(value) for value in values]

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        if field.get_internal_type() in _PLAIN:
            values = list(self.rhs)
        else:
            values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        return f"{lhs_sql} = ANY(%s::{field.db_type(connection)}[])", (*lhs_params, values)


Field.register_lookup(Any)
ForeignObject.register_lookup(Any)  # relations keep their own lookups: ``device_id__any=[...]`` (ids, not instances)
