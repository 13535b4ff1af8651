"""Import historical room bookings (CSV or iCalendar) so that an operator arriving from another system has history
from day one (contracts/ANALYTICS.md, ``POST /api/v1/bookings/import/``).

All or nothing: the whole file is parsed and checked first; a malformed file (a missing column, a bad date, an
unknown status) is an :class:`ImportMalformed` naming its line (the header is line 1) and nothing is written. Rows
that are well-formed but cannot be imported (an unknown room or organiser, an overlap with a held booking or with
another row of the file) are reported as skipped with their line. The rest is written with bulk inserts inside one
transaction; the booking rules are skipped (history is in the past), the no-overlap constraint is not: a held row
overlapping one booked meanwhile makes the constraint refuse the insert and nothing is imported (409). Imported
history is not announced through :mod:`bookings.events` (no calendar writes for the past); analytics finds it by
``updated_at``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bookings.choices import HOLDING_STATUSES, BookingSource, BookingStatus
from bookings.models import MAX_ATTENDEES, Booking, Room
from bookings.services.conflicts import held_until, is_overlap_violation
from labs import bulk
from labs.errors import Conflict, Invalid
from labs.models import Person, Site
from labs.validators import ascii_int

MAX_ROWS = 200_000
COLUMNS = ("room", "start", "end", "organiser_email", "attendees", "status")
OPTIONAL_COLUMNS = ("checked_in_at", "created_at")
STATUSES = {
    "completed": BookingStatus.COMPLETED,
    "cancelled": BookingStatus.CANCELLED,
    "no_show": BookingStatus.RELEASED,
}
BATCH = 2000


class ImportMalformed(Invalid):
    """The file cannot be read as bookings; ``line`` is where (the header is line 1)."""

    code = "malformed"

    def __init__(self, line: int, detail: str):
        super().__init__(f"Line {line}: {detail}", extra={"line": line})


@dataclass
class _Row:
    line: int
    room: str
    start: datetime
    end: datetime
    organiser_email: str
    attendees: int
    status: str
    checked_in_at: datetime | None = None
    created_at: datetime | None = None


@dataclass
class ImportResult:
    imported: int = 0
    skipped: list[dict] = field(default_factory=list)


# --- parsing ------------------------------------------------------------------------------------------------------


def _moment(text: str, *, line: int, column: str, required: bool = True) -> datetime | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ImportMalformed(line, f"{column} is empty.")
        return None
    try:
        value = parse_datetime(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        value = None
    if value is None:
        raise ImportMalformed(line, f"{column} {text!r} is not an ISO 8601 date and time.")
    if timezone.is_naive(value):
        raise ImportMalformed(line, f"{column} {text!r} has no UTC offset.")
    return value


def _row(line: int, values: dict[str, str]) -> _Row:
    status = (values.get("status") or "").strip().lower()
    if status not in STATUSES:
        raise ImportMalformed(line, f"status {status!r} is not one of {', '.join(STATUSES)}.")
    attendees_text = (values.get("attendees") or "").strip() or "0"
    attendees = ascii_int(attendees_text)
    if attendees is None or attendees > MAX_ATTENDEES:
        raise ImportMalformed(line, f"attendees {attendees_text!r} is not a count from 0 to {MAX_ATTENDEES}.")
    start = _moment(values.get("start", ""), line=line, column="start")
    end = _moment(values.get("end", ""), line=line, column="end")
    if end <= start:
        raise ImportMalformed(line, "end is not after start.")
    room = (values.get("room") or "").strip()
    if not room:
        raise ImportMalformed(line, "room is empty.")
    return _Row(
        line=line,
        room=room,
        start=start,
        end=end,
        organiser_email=(values.get("organiser_email") or "").strip().lower(),
        attendees=attendees,
        status=STATUSES[status],
        checked_in_at=_moment(values.get("checked_in_at", ""), line=line, column="checked_in_at", required=False),
        created_at=_moment(values.get("created_at", ""), line=line, column="created_at", required=False),
    )


def parse_csv(text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportMalformed(1, "the file is empty; the header is the first line.") from None
    except csv.Error as exc:
        raise ImportMalformed(1, f"not CSV ({exc}).") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportMalformed(1, f"the header lacks {', '.join(missing)}.")
    rows = []
    line = reader.line_num
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise ImportMalformed(line, f"{len(record)} fields where the header has {len(header)}.")
            if len(rows) >= MAX_ROWS:
                raise ImportMalformed(line, f"more than {MAX_ROWS} rows; split the file.")
            rows.append(_row(line, dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        raise ImportMalformed(reader.line_num or line, f"not CSV ({exc}).") from None
    return rows


def _unfolded(text: str) -> list[tuple[int, str]]:
    """iCalendar content lines with their first physical line number (RFC 5545 folding undone)."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in {" ", "\t"} and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif raw.strip():
            lines.append((number, raw))
    return lines


def _ical_moment(line: int, name: str, params: dict[str, str], value: str) -> datetime:
    from icalendar.prop import vDDDTypes

    try:
        parsed = vDDDTypes.from_ical(value, timezone=params.get("TZID"))
    except Exception:
        raise ImportMalformed(line, f"{name} {value!r} is not an iCalendar date-time.") from None
    if not isinstance(parsed, datetime) or timezone.is_naive(parsed):
        raise ImportMalformed(line, f"{name} {value!r} needs a time with a zone (TZID or Z).")
    return parsed


def parse_ical(text: str) -> list[_Row]:
    """VEVENTs: LOCATION is the room's name, ORGANIZER the organiser, the ATTENDEE lines (or X-LABS-ATTENDEES) the
    attendees, STATUS:CANCELLED or X-LABS-STATUS (completed, cancelled, no_show) the status (default completed),
    X-LABS-CHECKED-IN-AT the check-in, CREATED the creation. A malformed event names the line of its property."""
    lines = _unfolded(text)
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise ImportMalformed(lines[0][0] if lines else 1, "not an iCalendar file (BEGIN:VCALENDAR expected).")
    rows: list[_Row] = []
    event: dict | None = None
    for number, content in lines:
        name_part, sep, value = content.partition(":")
        if not sep:
            raise ImportMalformed(number, "a content line without ':'.")
        name, *param_parts = name_part.split(";")
        name = name.strip().upper()
        params = {}
        for part in param_parts:
            key, _eq, val = part.partition("=")
            params[key.strip().upper()] = val.strip().strip('"')
        if name == "BEGIN" and value.strip().upper() == "VEVENT":
            event = {"line": number, "attendees": 0, "values": {}}
        elif name == "END" and value.strip().upper() == "VEVENT":
            if event is None:
                raise ImportMalformed(number, "END:VEVENT without BEGIN:VEVENT.")
            rows.append(_event_row(event))
            if len(rows) > MAX_ROWS:
                raise ImportMalformed(number, f"more than {MAX_ROWS} events; split the file.")
            event = None
        elif event is not None:
            if name in {"DTSTART", "DTEND", "CREATED", "X-LABS-CHECKED-IN-AT"}:
                event["values"][name] = (number, _ical_moment(number, name, params, value.strip()))
            elif name == "ATTENDEE":
                event["attendees"] += 1
            elif name in {"LOCATION", "ORGANIZER", "STATUS", "X-LABS-STATUS", "X-LABS-ATTENDEES"}:
                event["values"][name] = (number, value.strip())
    if event is not None:
        raise ImportMalformed(event["line"], "BEGIN:VEVENT without END:VEVENT.")
    return rows


def _event_row(event: dict) -> _Row:
    line, values = event["line"], event["values"]
    for required in ("DTSTART", "DTEND", "LOCATION", "ORGANIZER"):
        if required not in values:
            raise ImportMalformed(line, f"the event has no {required}.")
    status = values.get("X-LABS-STATUS", (line, ""))[1].lower()
    if not status:
        status = "cancelled" if values.get("STATUS", (line, ""))[1].upper() == "CANCELLED" else "completed"
    if status not in STATUSES:
        raise ImportMalformed(
            values["X-LABS-STATUS"][0], f"X-LABS-STATUS {status!r} is not one of {', '.join(STATUSES)}."
        )
    attendees = event["attendees"]
    if "X-LABS-ATTENDEES" in values:
        text = values["X-LABS-ATTENDEES"][1]
        attendees = ascii_int(text)
        if attendees is None or attendees > MAX_ATTENDEES:
            raise ImportMalformed(values["X-LABS-ATTENDEES"][0], f"X-LABS-ATTENDEES {text!r} is not a count.")
    start, end = values["DTSTART"][1], values["DTEND"][1]
    if end <= start:
        raise ImportMalformed(values["DTEND"][0], "DTEND is not after DTSTART.")
    organiser = values["ORGANIZER"][1]
    if organiser.lower().startswith("mailto:"):
        organiser = organiser[7:]
    return _Row(
        line=line,
        room=values["LOCATION"][1].replace("\\,", ",").strip(),
        start=start,
        end=end,
        organiser_email=organiser.strip().lower(),
        attendees=min(attendees, MAX_ATTENDEES),
        status=STATUSES[status],
        checked_in_at=values.get("X-LABS-CHECKED-IN-AT", (line, None))[1],
        created_at=values.get("CREATED", (line, None))[1],
    )


def parse(content: bytes | str, *, content_type: str) -> list[_Row]:
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = content[: exc.start].count(b"\n") + 1
            raise ImportMalformed(line, "not UTF-8 text.") from None
    if "\x00" in content:
        raise ImportMalformed(content[: content.index("\x00")].count("\n") + 1, "a NUL byte.")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "text/calendar":
        return parse_ical(content)
    if kind == "text/csv":
        return parse_csv(content)
    raise Invalid("Send text/csv or text/calendar.", code="unsupported_media_type")


# --- checking and writing ------------------------------------------------------------------------------------------


def _skip(result: ImportResult, row: _Row, code: str, detail: str) -> None:
    result.skipped.append({"line": row.line, "code": code, "detail": detail})


def _overlaps(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return any(s < end and e > start for s, e in intervals)


def bookings_import(
    *, site: Site, content: bytes | str, content_type: str, now: datetime | None = None
) -> ImportResult:
    """Import historical room bookings of ``site`` from CSV or iCalendar (see the module docstring)."""
    now = now or timezone.now()
    rows = parse(content, content_type=content_type)
    result = ImportResult()
    if not rows:
        return result
    rooms = {r.name.lower(): r for r in Room.objects.filter(site=site)}
    emails = {row.organiser_email for row in rows}
    people = dict(
        Person.objects.filter(site=site, user__is_active=True)
        .annotate(email_lower=Lower("user__email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "pk")
    )
    companies = dict(Person.objects.filter(pk__in=people.values()).values_list("pk", "company_id"))
    grace = timedelta(minutes=site.check_in_grace_minutes)

    candidates: list[tuple[_Row, Room, int]] = []
    for row in rows:
        room = rooms.get(row.room.lower())
        if room is None:
            _skip(result, row, "unknown_room", f"No room named {row.room!r} at {site.slug}.")
        elif row.organiser_email not in people:
            _skip(result, row, "unknown_organiser", f"No person at {site.slug} with e-mail {row.organiser_email!r}.")
        elif row.status != BookingStatus.CANCELLED and row.start >= now:
            _skip(result, row, "not_started", "Only bookings that have started can be completed or no-shows.")
        else:
            candidates.append((row, room, people[row.organiser_email]))

    # The no-overlap rule, before writing: held rows against held bookings already there and against each other.
    held_rows = [(row, room) for row, room, _p in candidates if row.status in HOLDING_STATUSES]
    taken: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    if held_rows:
        first = min(row.start for row, _r in held_rows)
        last = max(held_until(room=room, end=row.end) for row, room in held_rows)
        existing = Booking.objects.filter(
            room_id__in={room.pk for _row, room in held_rows},
            status__in=HOLDING_STATUSES,
            start__lt=last,
            hold_end__gt=first,
        ).values_list("room_id", "start", "hold_end")
        for room_id, start, hold_end in existing:
            taken[room_id].append((start, hold_end))
    overlapping: set[int] = set()
    by_room: dict[int, list[tuple[_Row, Room]]] = defaultdict(list)
    for row, room in held_rows:
        by_room[room.pk].append((row, room))
    for room_id, room_rows in by_room.items():
        booked = sorted(taken[room_id])
        previous_end = None
        for row, room in sorted(room_rows, key=lambda pair: pair[0].start):
            hold_end = held_until(room=room, end=row.end)
            if (previous_end is not None and row.start < previous_end) or _overlaps(booked, row.start, hold_end):
                overlapping.add(row.line)
                continue
            previous_end = hold_end
    bookings: list[Booking] = []
    for row, room, person_id in candidates:
        if row.line in overlapping:
            _skip(result, row, "overlap", "It overlaps a held booking of the room (or an earlier row of the file).")
            continue
        booking = Booking(
            site=site,
            room=room,
            organiser_id=person_id,
            company_id=companies.get(person_id),
            start=row.start,
            end=row.end,
            hold_end=held_until(room=room, end=row.end),
            status=row.status,
            source=BookingSource.IMPORT,
            attendee_count=row.attendees,
            checked_in_at=row.checked_in_at if row.status == BookingStatus.COMPLETED else None,
            # An imported no-show was released at its start plus the check-in grace (the contract's rule).
            released_at=min(row.start + grace, row.end) if row.status == BookingStatus.RELEASED else None,
            cancelled_at=row.created_at if row.status == BookingStatus.CANCELLED else None,
        )
        booking.created_at = row.created_at or now
        booking.updated_at = now
        bookings.append(booking)
    result.skipped.sort(key=lambda s: s["line"])
    if not bookings:
        return result
    try:
        with transaction.atomic():
            # One executemany per batch, created_at as the file says (bulk_create would overwrite it: auto_now_add).
            bulk.bulk_insert(Booking, [bulk.instance_row(b) for b in bookings], batch=BATCH)
    except IntegrityError as exc:
        if not is_overlap_violation(exc):
            raise
        raise Conflict("A room was booked over an imported row meanwhile; nothing was imported, try again.") from None
    result.imported = len(bookings)
    return result


__all__ = ["ImportMalformed", "ImportResult", "bookings_import", "parse"]
