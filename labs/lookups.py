"""``field__any=[...]``: "is one of these values" with the whole list as one parameter.

``field__in=[...]`` writes one placeholder per value. For the lists the bridge and the fan-out pass (hundreds to
thousands of ids at a time) that costs three times over: Django prepares every value through ``In.process_rhs``,
psycopg rewrites the long statement text on every call (it caches only statements under 4 kB), and each distinct
length is a new statement for PostgreSQL to parse. It also stops at 65,535 values, the protocol's parameter count.
In the fan-out of bench/comfort.py those IN lists were a fifth of the publishing process's CPU (py-spy).

On PostgreSQL ``__any`` writes ``"column" = ANY(%s::type[])``: the statement text is the same whatever the count,
so psycopg converts it once, and the array travels as one parameter. Elsewhere (SQLite) it is ``__in``.
The meaning is ``__in``'s: ``None`` values never match, an empty list matches nothing. Use it where a list may be
long; ``__in`` stays right for short literal lists and subqueries.

PostgreSQL plans such a statement on every call instead of preparing it (``labs.backends.postgresql``: statements
holding :data:`ARRAY_PARAMETER` are not prepared). A prepared statement settles after five calls on a generic plan,
made without the array in hand: it cannot hash the list, so where it scans a table it compares each row with each
element, and it keeps whatever plan suited the table's size when it was made. In the fan-out of bench/comfort.py
the commands table grew from 400 to 30,000 rows under such a plan: superseding the open commands of 1,000 devices
took 35-180 ms a chunk (a sequential scan, up to 19 million comparisons) instead of 12-30 ms, and the bridge's
reads of 500 commands by ``cmd_id`` 20-45 ms a batch. Planned with the array, it is an index scan, or a scan
with the list hashed.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.lookups import In

# What every ``__any`` condition holds in its SQL (and nothing else the project writes does): the backend plans the
# statements that carry it with their values (``labs.backends.postgresql``).
ARRAY_PARAMETER = "= ANY(%s::"

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
        return f"{lhs_sql} {ARRAY_PARAMETER}{field.db_type(connection)}[])", (*lhs_params, values)


Field.register_lookup(Any)
ForeignObject.register_lookup(Any)  # relations keep their own lookups: ``device_id__any=[...]`` (ids, not instances)
