"""demo_site's 12 weeks of history: realistic, idempotent, and analysed."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import override

from analytics import recommend
from analytics.choices import RunState
from analytics.models import Run
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking, DemandSignal

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _history_on(settings):
    settings.ANALYTICS_DEMO_HISTORY = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_site_gets_twelve_weeks_of_realistic_history_once():
    call_command("demo_site", stdout=StringIO())
    history = Booking.objects.filter(source=BookingSource.IMPORT)
    counts = (history.count(), DemandSignal.objects.aggregate(n=Sum("count"))["n"], Run.objects.count())
    call_command("demo_site", stdout=StringIO())

    assert (history.count(), DemandSignal.objects.aggregate(n=Sum("count"))["n"], Run.objects.count()) == counts
    tz = history.first().site.tz
    today = timezone.now().astimezone(tz).date()
    first = history.order_by("start").first().start.astimezone(tz).date()
    last = history.order_by("start").last().start.astimezone(tz).date()
    assert today - timedelta(days=85) <= first <= today - timedelta(days=80)
    assert last < today
    sizes = Counter(1 + b.attendee_count for b in history)
    assert sum(n for size, n in sizes.items() if size <= 4) / history.count() >= 0.8
    started = history.exclude(status=BookingStatus.CANCELLED)
    no_shows = started.filter(status=BookingStatus.RELEASED).count() / started.count()
    assert 0.15 <= no_shows <= 0.25
    by_weekday = Counter(b.start.astimezone(b.site.tz).weekday() for b in history)
    assert min(by_weekday[d] for d in range(4)) > by_weekday[4] > by_weekday[5] + by_weekday[6]


def test_the_demo_history_is_analysed_with_recommendations():
    with override("da"):  # a run started from a Danish page still stores the API's summaries in English
        call_command("demo_site", stdout=StringIO())
    run = Run.objects.get()

    assert run.state == RunState.DONE
    assert (run.date_to - run.date_from).days == 83
    kinds = {r["kind"] for r in run.report["recommendations"]}
    assert {"add_rooms", "convert_to_desks", "right_size", "preferred"} <= kinds
    for rec in run.report["recommendations"]:  # each is written again in the dashboard reader's language
        assert recommend.describe(rec["kind"], rec["evidence"]) == rec["summary"]
        with override("da"):
            danish = recommend.describe(rec["kind"], rec["evidence"])
        assert danish != rec["summary"] and "%(" not in danish, danish
    assert any(cell["utilisation"] for cell in run.report["heatmap"])
