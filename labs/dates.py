"""A day in words as each language writes it: "Monday 30 November 2026", "mandag den 30. november 2026".

Three formats for every place that names a day with its weekday (the rule texts, the portal's pages, the visitor's
badge): with the year (``long_day``), without it (``day_month``: "mandag den 30. november") and short
(``short_day``: "Mon 30 Nov", "man. 30. nov."); and one for a date without its weekday (``short_date``: "30 Nov
2026", "30. nov. 2026"). Each is translated per language (``locale/<lang>/LC_MESSAGES/
django.po``, contexts "date format: ..."): Danish puts "den" before the day and full stops after the day and the
abbreviations, which one shared English format cannot. And an end's clock time (``end_time``: "24:00" at
midnight), and a time zone named as people say it (``zone_name``: "Copenhagen time", "København-tid").
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils.formats import date_format
from django.utils.translation import get_language, gettext, pgettext

# Short months a language writes whole, after the format put a full stop after every abbreviation: Danish abbreviates
# "nov." but writes "maj" (Dansk Sprognævn), so "1. maj 2026", not "1. maj. 2026".
WHOLE_SHORT_MONTHS = {"da": (("maj.", "maj"),)}


def _short(text: str) -> str:
    for written, right in WHOLE_SHORT_MONTHS.get((get_language() or "").split("-")[0], ()):
        text = text.replace(written, right)
    return text


def long_day(value: date) -> str:
    """``value`` (a date, or a datetime already in the zone meant) as weekday, day, month and year in the active
    language."""
    # the context literally: makemessages reads it from the call
    return date_format(value, pgettext("date format: weekday, day, month and year", "l j F Y"))


def day_month(value: date) -> str:
    """Weekday, day and month without the year, in the active language."""
    return date_format(value, pgettext("date format: weekday, day and month", "l j F"))


def short_day(value: date) -> str:
    """Short weekday, day and short month ("Mon 30 Nov", "man. 30. nov."), in the active language."""
    return _short(date_format(value, pgettext("date format: short weekday, day and month", "D j M")))


def short_date(value: date) -> str:
    """Day, short month and year, no weekday ("30 Nov 2026", "30. nov. 2026"), in the active language."""
    return _short(date_format(value, pgettext("date format: day, short month and year", "j M Y")))


def end_time(value: datetime) -> str:
    """The clock time of an end, already in the zone meant: "17:30"; an end at midnight is "24:00", the end of the day
    it closes (ISO 8601 allows it). A desk held to the end of the day read "14:37–00:00", "until 00:00": this
    morning's midnight to anyone reading it quickly. Only for an end shown without its date."""
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return "24:00"
    return f"{value:%H:%M}"


def zone_name(key: str) -> str:
    """``Europe/Copenhagen`` -> "Copenhagen time" in the active language; ``America/New_York`` -> "New York time"; a
    zone without a city (``UTC``, ``Etc/GMT-1``) keeps its name. Never "UTC" for a site that is not in it: pages and
    the admin say which zone their times are in with this."""
    if "/" not in key or key.startswith("Etc/"):
        return key.removeprefix("Etc/")
    return gettext("%(city)s time") % {"city": key.rsplit("/", 1)[-1].replace("_", " ")}
