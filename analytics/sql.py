"""The SQL dialect pieces analytics needs on PostgreSQL and SQLite, and the calendar tables it joins bookings with.

Local days are turned into UTC instants in Python, once per DAY (zoneinfo knows a DST day has 23 or 25 hours), and
handed to the database as a literal ``VALUES`` table of instants; every per-booking step (joining, clipping to
opening hours, summing) then runs in SQL on either database. The literals are formatted here from dates and
integers we computed, never from input, so inlining them is safe (and keeps SQLite under its parameter limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from django.db import connection, transaction

from bookings.choices import HOLDING_STATUSES, BookingStatus
from labs import bulk

HELD = "(" + ", ".join(f"'{s}'" for s in HOLDING_STATUSES) + ")"
RELEASED = f"'{BookingStatus.RELEASED}'"
CHECKED_IN_OR_DONE = f"('{BookingStatus.CHECKED_IN}', '{BookingStatus.COMPLETED}')"
STARTED_STATUSES = f"('{BookingStatus.CHECKED_IN}', '{BookingStatus.COMPLETED}', '{BookingStatus.RELEASED}')"
PUBLISHED_STATUSES = "(" + ", ".join(f"'{s}'" for s in [*HOLDING_STATUSES, BookingStatus.RELEASED]) + ")"


def postgres() -> bool:
    return connection.vendor == "postgresql"


def ts(moment: datetime) -> str:
    """A UTC instant as an SQL literal comparable with stored datetimes."""
    utc = moment.astimezone(UTC)
    if postgres():
        return f"TIMESTAMPTZ '{utc:%Y-%m-%d %H:%M:%S}+00'"
    return f"'{utc:%Y-%m-%d %H:%M:%S}'"  # Django stores UTC text on SQLite; text order is time order


def day_literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'" if postgres() else f"'{day.isoformat()}'"


def hours_between(start: str, end: str) -> str:
    if postgres():
        return f"(EXTRACT(EPOCH FROM ({end}) - ({start})) / 3600.0)"
    return f"((julianday({end}) - julianday({start})) * 24.0)"


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if postgres() else f"MIN({a}, {b})"


def greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if postgres() else f"MAX({a}, {b})"


def clipped_hours(start: str, end: str, window_start: str, window_end: str) -> str:
    """Hours of [start, end) inside [window_start, window_end), never negative."""
    return greatest("0", hours_between(greatest(start, window_start), least(end, window_end)))


def plus_minutes(moment: str, minutes: int) -> str:
    if postgres():
        return f"({moment} + INTERVAL '{int(minutes)} minutes')"
    return f"datetime({moment}, '+{int(minutes)} minutes')"


def attendee_count(alias: str = "b") -> str:
    """Attendees besides the organiser: the imported count, else the length of the e-mail list."""
    length = f"jsonb_array_length({alias}.attendees)" if postgres() else f"json_array_length({alias}.attendees)"
    return f"COALESCE({alias}.attendee_count, {length})"


def attendee_emails(alias: str = "b") -> tuple[str, str]:
    """(JOIN clause, value expression) that expand a booking's attendee e-mails into rows."""
    if postgres():
        return f"CROSS JOIN LATERAL jsonb_array_elements_text({alias}.attendees) AS e(value)", "lower(e.value)"
    return f"JOIN json_each({alias}.attendees) AS e", "lower(e.value)"


def band_of(capacity: str) -> str:
    """The size band of a number of people or seats, as SQL (the same cut-offs as bookings.choices.size_band)."""
    c = capacity
    return f"(CASE WHEN {c} <= 2 THEN '1-2' WHEN {c} <= 4 THEN '3-4' WHEN {c} <= 8 THEN '5-8' ELSE '9+' END)"


def text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)"


def concat(*parts: str) -> str:
    return " || ".join(parts)


def values(name: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A CTE ``name(columns) AS (VALUES ...)`` of already formatted literals; never empty (a NULL row that joins
    nothing stands in)."""
    body = ",\n".join("(" + ", ".join(row) + ")" for row in rows)
    if not body:
        nulls = ", ".join("NULL" for _ in columns)
        body = f"({nulls})"
    return f"{name}({', '.join(columns)}) AS (VALUES {body})"


def fetch(sql: str, params: Sequence = ()) -> list[tuple]:
    """Run one read. On PostgreSQL without JIT: these statements are planned as expensive (a join with a VALUES
    table) but run in tens of milliseconds, and JIT-compiling each took half a second."""
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres():
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, list(params))
        return cursor.fetchall()


bulk_insert = bulk.bulk_insert  # re-exported: analytics writes its snapshots with it
