"""RFC 5545 recurrence rules, expanded with python-dateutil in the site's local time.

The rule is expanded over naive *local* wall-clock times and each occurrence is then placed in the site's zone, so a
weekly 09:00 booking stays at 09:00 local across a daylight-saving change (its UTC time moves by an hour).

Expansion is bounded so that no rule can keep the server busy: a series spans at most :data:`MAX_SPAN` and
:data:`MAX_OCCURRENCES` occurrences, only DAILY, WEEKLY and MONTHLY rules with COUNT or UNTIL and a few BY* parts
are accepted, and dateutil's search for the next match (which for an impossible rule such as
``FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1`` scans every period up to year 9999) runs on a calendar shifted by whole
400-year Gregorian cycles to just below year 9999, where weekdays and leap years are identical, so it gives up
after a few hundred years of periods instead of eight thousand.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrulestr

from labs.errors import Invalid
from labs.validators import ascii_int

MAX_OCCURRENCES = 500
MAX_SPAN = timedelta(days=366)
ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY"}
ALLOWED_PARTS = {
    "DAILY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"},
    "WEEKLY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"},
    "MONTHLY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST"},
}
MAX_INTERVAL = {"DAILY": 31, "WEEKLY": 12, "MONTHLY": 12}
_GREGORIAN_CYCLE_YEARS = 400  # 146097 days = 20871 weeks: weekdays and leap years repeat exactly
_SHIFT_TARGET_YEAR = 9998 - _GREGORIAN_CYCLE_YEARS
_PART = re.compile(r"^[A-Z]+=[A-Z0-9,+\-]+$")


def _invalid(detail: str) -> Invalid:
    return Invalid(detail, extra={"recurrence": [detail]})


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC


def _parse_until(value: str, tz: zoneinfo.ZoneInfo) -> datetime:
    """UNTIL as a naive local datetime: a date (end of that day), a UTC time (…Z), or a floating local time."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)  # noqa: DTZ007
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(tz).replace(tzinfo=None)
        return datetime.strptime(value, "%Y%m%dT%H%M%S")  # noqa: DTZ007
    except ValueError:
        raise _invalid(f"UNTIL={value} is not an RFC 5545 date or date-time.") from None


def parse(text: str) -> dict[str, str]:
    """Split and check an RRULE; raises Invalid (400) for anything outside the accepted subset."""
    if not isinstance(text, str) or not text.strip() or len(text) > 300:
        raise _invalid("Give the recurrence as an RFC 5545 RRULE of at most 300 characters.")
    body = text.strip().upper()
    if body.startswith("RRULE:"):
        body = body[len("RRULE:") :]
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not _PART.match(item):
            raise _invalid(f"{item!r} is not an RRULE part.")
        key, value = item.split("=", 1)
        if key in parts:
            raise _invalid(f"{key} appears twice.")
        parts[key] = value
    freq = parts.get("FREQ")
    if freq not in ALLOWED_FREQ:
        raise _invalid("FREQ must be DAILY, WEEKLY or MONTHLY.")
    unknown = set(parts) - ALLOWED_PARTS[freq]
    if unknown:
        raise _invalid(f"Not supported with FREQ={freq}: {', '.join(sorted(unknown))}.")
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise _invalid("Give exactly one of COUNT or UNTIL.")
    if "COUNT" in parts and not 1 <= (ascii_int(parts["COUNT"]) or 0) <= MAX_OCCURRENCES:
        raise _invalid(f"COUNT must be between 1 and {MAX_OCCURRENCES}.")
    interval = parts.get("INTERVAL", "1")
    if not 1 <= (ascii_int(interval) or 0) <= MAX_INTERVAL[freq]:
        raise _invalid(f"INTERVAL must be between 1 and {MAX_INTERVAL[freq]}.")
    if freq == "DAILY" and "BYDAY" in parts and interval != "1":
        raise _invalid("BYDAY with FREQ=DAILY needs INTERVAL=1.")
    if freq in {"DAILY", "WEEKLY"} and re.search(r"\d", parts.get("BYDAY", "")):
        raise _invalid("Ordinal BYDAY (e.g. 2MO) needs FREQ=MONTHLY.")
    return parts


def expand(text: str, *, first_start: datetime, duration: timedelta, tz: zoneinfo.ZoneInfo) -> list[Occurrence]:
    """The occurrences of ``text`` starting at ``first_start`` (aware), each ``duration`` long, in UTC."""
    parts = parse(text)
    local_start = first_start.astimezone(tz).replace(tzinfo=None, microsecond=0)
    until = _parse_until(parts.pop("UNTIL"), tz) if "UNTIL" in parts else None
    limit = local_start + MAX_SPAN
    if until is not None and until > limit:
        raise _invalid(f"A series may span at most {MAX_SPAN.days} days.")

    shift_years = max(0, (_SHIFT_TARGET_YEAR - local_start.year) // _GREGORIAN_CYCLE_YEARS) * _GREGORIAN_CYCLE_YEARS

    def shifted(moment: datetime) -> datetime:
        return moment.replace(year=moment.year + shift_years)

    try:
        rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=shifted(local_start))
        if until is not None:
            rule = rule.replace(until=shifted(until))
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(f"The recurrence rule is not valid: {exc}") from None

    shifted_limit = shifted(limit)
    occurrences: list[Occurrence] = []
    try:
        for moment in rule:
            if moment > shifted_limit:
                raise _invalid(f"A series may span at most {MAX_SPAN.days} days.")
            if len(occurrences) == MAX_OCCURRENCES:
                raise _invalid(f"A series may have at most {MAX_OCCURRENCES} occurrences.")
            local = moment.replace(year=moment.year - shift_years, tzinfo=tz)
            start = local.astimezone(UTC)
            occurrences.append(Occurrence(start=start, end=start + duration))
    except (ValueError, OverflowError) as exc:
        raise _invalid(f"The recurrence rule is not valid: {exc}") from None
    if not occurrences:
        raise _invalid("The recurrence rule has no occurrences.")
    return occurrences
