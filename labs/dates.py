"""A day in words as each language writes it: "Monday 30 November 2026", "mandag den 30. november 2026".

One format for every place that names a day with its weekday (the rule texts, the portal's pages, the visitor's
badge), translated per language (``locale/<lang>/LC_MESSAGES/django.po``, context "date format: weekday, day, month
and year"): Danish puts "den" before the day and a full stop after it, which one shared English format cannot.
"""

from __future__ import annotations

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import pgettext


def long_day(value: date) -> str:
    """``value`` (a date, or a datetime already in the zone meant) as weekday, day, month and year in the active
    language."""
    # the context literally: makemessages reads it from the call
    return date_format(value, pgettext("date format: weekday, day, month and year", "l j F Y"))
