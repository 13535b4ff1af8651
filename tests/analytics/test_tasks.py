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


def test_the_sweep_sends_a_stuck_queued_run_again_and_fails_one_whose_worker_ended(
    site, rooms, settings, django_capture_on_commit_callbacks
):
    """A run queued during a broker outage would wait for ever; a run whose worker was killed would show as running
    on the dashboard for ever."""
    from datetime import timedelta

    from analytics import services
    from analytics.choices import RunState

    day = local(2026, 3, 2).date()
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    sweep_at = local(2026, 3, 10, 9, 2) + limit
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        lost = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)  # its task never sent
        killed = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)
        Run.objects.filter(pk=killed.pk).update(state=RunState.RUNNING, started_at=local(2026, 3, 10, 9))
        busy = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)
        Run.objects.filter(pk=busy.pk).update(state=RunState.RUNNING, started_at=local(2026, 3, 10, 9, 3))
    with time_machine.travel(sweep_at - timedelta(minutes=2), tick=False):
        fresh = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)  # its task may be on the way

    with time_machine.travel(sweep_at, tick=False), django_capture_on_commit_callbacks(execute=True) as sent:
        assert tasks.runs_sweep.delay().get() == [1, 1]
    assert len(sent) == 1  # the lost run's task, once

    states = dict(Run.objects.values_list("pk", "state"))
    assert states[lost.pk] == RunState.DONE  # sent again, executed
    assert states[fresh.pk] == RunState.QUEUED
    assert states[busy.pk] == RunState.RUNNING  # started within the time limit: it may still be working
    killed.refresh_from_db()
    assert killed.state == RunState.FAILED and killed.finished_at == sweep_at
    assert "worker running it ended" in killed.error
    with time_machine.travel(sweep_at + timedelta(seconds=10), tick=False):
        assert tasks.runs_sweep.delay().get() == [0, 0]  # nothing left: the sweep changes nothing twice


def test_a_run_whose_heartbeat_stops_is_failed_within_minutes_not_after_the_time_limit(site, rooms):
    """Every step touches the heartbeat; ten minutes of silence mean the worker is gone (the time limit is 30)."""

    from analytics import services
    from analytics.choices import RunState

    day = local(2026, 3, 2).date()
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        dead = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)
        slow = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)
        Run.objects.filter(pk__in=[dead.pk, slow.pk]).update(
            state=RunState.RUNNING, started_at=local(2026, 3, 10, 9), heartbeat_at=local(2026, 3, 10, 9)
        )
    with time_machine.travel(local(2026, 3, 10, 9, 8), tick=False):
        services._progress(slow.pk, 0.5)  # a step ends: the heartbeat moves on
    assert Run.objects.get(pk=slow.pk).heartbeat_at == local(2026, 3, 10, 9, 8)

    with time_machine.travel(local(2026, 3, 10, 9, 11), tick=False):
        assert services.runs_sweep() == (0, 1)

    dead.refresh_from_db()
    assert dead.state == RunState.FAILED and "worker running it ended" in dead.error
    assert Run.objects.get(pk=slow.pk).state == RunState.RUNNING  # 3 minutes since its last step


def test_claiming_a_run_starts_its_heartbeat(site, rooms):
    from analytics import services

    day = local(2026, 3, 2).date()
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        run = services.run_create(site=site, date_from=day, date_to=day, enqueue=False)
        services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == "done" and run.heartbeat_at == local(2026, 3, 10, 9)
