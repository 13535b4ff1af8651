"""labs.dates: a day in words as each language writes it."""

from __future__ import annotations

from datetime import date

from django.utils import translation

from labs import dates


def test_danish_short_dates_stop_after_abbreviations_but_not_after_may():
    with translation.override("da"):
        assert dates.short_date(date(2026, 11, 30)) == "30. nov. 2026"
        assert dates.short_date(date(2026, 5, 1)) == "1. maj 2026"
        assert dates.short_day(date(2026, 5, 1)) == "fre. 1. maj"
        assert dates.long_day(date(2026, 5, 1)) == "fredag den 1. maj 2026"
    with translation.override("en-gb"):
        assert dates.short_date(date(2026, 5, 1)) == "1 May 2026"
        assert dates.short_day(date(2026, 5, 1)) == "Fri 1 May"
