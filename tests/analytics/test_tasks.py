"""The nightly run is scheduled in the one beat schedule and recomputes only what changed."""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings

from analytics import tasks
from analytics.models import RoomDay, Run
from tests.analytics.conftest import book, local

pytestmark = pytest.mark.django_db


def test_the_nightly_run_is_in_the_beat_schedule():
    assert {"analytics.tasks.nightly", "analytics.tasks.runs_purge"} <= {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_the_nightly_task_computes_the_last_twelve_weeks_once(site, rooms, people):
    book(rooms["A"], people[0], local(2026, 3, 3, 9), local(2026, 3, 3, 10))
    with time_machine.travel(local(2026, 3, 10, 2, 30), tick=False):
        assert tasks.nightly.delay().get() == 1
        assert tasks.nightly.delay().get() == 1

    first, second = Run.objects.order_by("id")
    assert (first.date_to.isoformat(), (first.date_to - first.date_from).days) == ("2026-03-09", 83)
    assert first.days_recomputed == 84
    assert second.days_recomputed == 0
    assert RoomDay.objects.get(room=rooms["A"], day=local(2026, 3, 3).date()).booked_h == 1.0


def test_a_run_task_delivered_twice_executes_once(site, rooms):
    from analytics import services

    run = services.run_create(
        site=site, date_from=local(2026, 3, 2).date(), date_to=local(2026, 3, 2).date(), enqueue=False
    )
    assert tasks.run_execute.delay(run.pk).get() == "done"
    assert tasks.run_execute.delay(run.pk).get() is None
