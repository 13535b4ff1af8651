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


def test_an_end_at_midnight_is_the_end_of_its_day_not_the_start():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    cph = ZoneInfo("Europe/Copenhagen")
    assert dates.end_time(datetime(2026, 12, 2, 0, 0, tzinfo=cph)) == "24:00"
    assert dates.end_time(datetime(2026, 12, 2, 0, 15, tzinfo=cph)) == "00:15"
    assert dates.end_time(datetime(2026, 12, 1, 17, 30, tzinfo=cph)) == "17:30"
    assert dates.end_time(datetime(2026, 12, 2, 0, 0, 30, tzinfo=cph)) == "00:00"  # not on the minute: not midnight
