"""Validators shared by every app's models and entry points (admin, API, portal all go through the model's rules).

- ``validate_single_line``: names, titles, labels, addresses... are one line of text. A control character (Unicode
  category Cc: NUL, tab, CR/LF, ESC, DEL, C1 controls) or a line/paragraph separator (U+2028/2029) in them breaks
  whatever renders them on one line: an email subject or header, a CSV export, a QR badge, a log line.
- The datetime and date range the system accepts: years 2 to 9998, UTC offsets up to ±15:59 (what PostgreSQL
  accepts). Outside it, converting between local time and UTC, or adding a day, overflows.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy

LINE_SEPARATORS = "\u2028\u2029"
# For the OpenAPI schema (an ECMA-262 regex, understood by Python too): no C0/C1 controls, DEL, U+2028/2029.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$"

MIN_YEAR, MAX_YEAR = 2, 9998
MIN_DATE, MAX_DATE = date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31)
MAX_UTC_OFFSET_MINUTES = 15 * 60 + 59

# Years 0002-9998 as a regex, so the schema can state the range on strings (JSON Schema has no date minimum).
_YEAR = r"(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])"
_OFFSET = r"(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])"
DATE_PATTERN = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"
DATETIME_PATTERN = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,6}})?{_OFFSET}$"
DATE_RE = re.compile(DATE_PATTERN, re.ASCII)
DATETIME_RE = re.compile(DATETIME_PATTERN, re.ASCII)


def control_characters(value: str) -> list[str]:
    """The control characters and line separators in ``value``, as ``U+000A`` names."""
    return sorted(
        {f"U+{ord(c):04X}" for c in value if c in LINE_SEPARATORS or unicodedata.category(c) == "Cc"},
    )


@deconstructible
class SingleLineValidator(RegexValidator):
    """Refuses control characters and line separators; a RegexValidator so the schema states it as a ``pattern``."""

    message = gettext_lazy("Use one line of text, without control characters (%(characters)s).")
    code = "control_characters"

    def __init__(self, allow_empty: bool = False):
        # The schema's pattern: "+" (a blank field gets its own "maxLength: 0" branch), "*" where "" is a value.
        regex = SINGLE_LINE_PATTERN[:-2] + "*$" if allow_empty else SINGLE_LINE_PATTERN
        super().__init__(regex=regex, message=self.message, code=self.code)

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        found = control_characters(value)
        if found:
            raise ValidationError(self.message, code=self.code, params={"characters": ", ".join(found)})

    def __eq__(self, other) -> bool:
        return isinstance(other, SingleLineValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_single_line = SingleLineValidator()


def single_line(value: str) -> str:
    """``value`` with every control character or line separator replaced by a space: safe in an email header."""
    if not value or not control_characters(value):
        return value
    cleaned = "".join(" " if c in LINE_SEPARATORS or unicodedata.category(c) == "Cc" else c for c in value)
    return re.sub(" {2,}", " ", cleaned).strip()


def ascii_int(text: str, *, max_digits: int = 18) -> int | None:
    """``text`` as a whole number if it is 1 to ``max_digits`` ASCII digits, else None.

    For a number a person or a provider typed (an id in a form, a count in a rule or an import): ``str.isdigit`` is
    True for "²" and "٣", which ``int`` refuses, and ``int`` refuses more than 4,300 digits; either made
    ``isdigit() and int()`` a 500 ("²" as a desk, 5,000 nines as a COUNT). 18 digits fit a 64-bit id."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def validate_date_in_range(value: date) -> None:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValidationError(
            gettext_lazy("Give a date between %(min)s and %(max)s."),
            code="invalid",
            params={"min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()},
        )


def validate_datetime_in_range(value: datetime) -> None:
    """An aware datetime with an offset PostgreSQL accepts, whose UTC instant and local day can be computed."""
    offset = value.utcoffset()
    if offset is not None and abs(offset.total_seconds()) > MAX_UTC_OFFSET_MINUTES * 60:
        raise ValidationError(gettext_lazy("A UTC offset is at most ±15:59."), code="invalid")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(
            gettext_lazy("Give a datetime between years %(min)s and %(max)s."),
            code="invalid",
            params={"min": 2, "max": 9998},
        )
