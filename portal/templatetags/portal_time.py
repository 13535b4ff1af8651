"""Naming a site's time zone to a person: ``{{ site|zone_name }}`` -> "Copenhagen time"; and a day with its weekday
as the language writes it: ``{{ day|long_day }}`` -> "Monday 30 November 2026", "mandag den 30. november 2026";
``|day_month`` without the year; ``|short_day`` -> "Mon 30 Nov", "man. 30. nov."; ``|short_date`` -> "30 Nov 2026",
"30. nov. 2026"; ``|end_time`` -> "17:30", and "24:00" for an end at midnight (labs.dates).

Pages show every time in the site's zone (labs.middleware.SiteTimeZoneMiddleware activates the signed-in person's; a
page about another site's thing wraps it in ``{% timezone %}``); where it matters the page says which zone that is,
in words a person reads, never "UTC" for a site that is not in it.
"""

from __future__ import annotations

import zoneinfo

from django import template

from labs import dates

register = template.Library()


def _key(value) -> str:
    if isinstance(value, zoneinfo.ZoneInfo):
        return value.key
    if hasattr(value, "timezone"):  # a Site
        return str(value.timezone)
    return str(value or "")


@register.filter
def zone_name(value) -> str:
    """``Europe/Copenhagen`` (a key, a ZoneInfo or a Site) -> ``Copenhagen time``; ``America/New_York`` ->
    ``New York time``; a zone without a city (``UTC``, ``Etc/GMT-1``) keeps its name."""
    return dates.zone_name(_key(value))


@register.filter(expects_localtime=True)
def long_day(value) -> str:
    """A date, or a datetime in the current time zone (as ``|date`` does), as weekday, day, month and year in the
    active language (labs.dates)."""
    return dates.long_day(value) if value not in (None, "") else ""


@register.filter(expects_localtime=True)
def day_month(value) -> str:
    """Weekday, day and month, without the year (labs.dates)."""
    return dates.day_month(value) if value not in (None, "") else ""


@register.filter(expects_localtime=True)
def short_day(value) -> str:
    """Short weekday, day and short month (labs.dates)."""
    return dates.short_day(value) if value not in (None, "") else ""


@register.filter(expects_localtime=True)
def short_date(value) -> str:
    """Day, short month and year, no weekday (labs.dates)."""
    return dates.short_date(value) if value not in (None, "") else ""


@register.filter(expects_localtime=True)
def end_time(value) -> str:
    """An end's clock time, "24:00" at midnight, for an end shown without its date (labs.dates)."""
    return dates.end_time(value) if value not in (None, "") else ""
