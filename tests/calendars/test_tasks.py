"""The Celery side: thin tasks on the one beat schedule; one sync per calendar at a time, whoever asks."""

from __future__ import annotations

import pytest
from django.conf import settings

from calendars import sync
from calendars.models import RoomCalendar
from tests.calendars.google_support import ALICE, ROOM, live_bookings, local


def test_the_reconcile_and_the_renewals_are_on_the_beat_schedule():
    tasks = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["calendars.tasks.calendars_reconcile"] <= 300
    assert tasks["calendars.tasks.watches_renew"] <= 3600


@pytest.mark.django_db
def test_a_sync_asked_for_while_one_runs_makes_the_running_one_go_round_again(
    linked, fake_google, fjord, alice, committed
):
    claim = sync._claim(linked.pk, sync.timezone.now())  # a sync is running (another worker)
    assert claim

    assert sync.calendar_sync(calendar_id=linked.pk).ran is False  # a second one does not start
    assert RoomCalendar.objects.get(pk=linked.pk).sync_rerun
    assert sync._release(linked.pk, claim) is False  # the running one is told to go round again
    assert sync._release(linked.pk, claim) is True

    fake_google.user_event_create(
        ALICE, summary="After", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        assert sync.calendar_sync(calendar_id=linked.pk).ran
    assert [b.title for b in live_bookings(fjord)] == ["After"]


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_expires(linked, frozen):
    assert sync._claim(linked.pk, sync.timezone.now())
    later = sync.timezone.now() + settings.CALENDAR_SYNC_LEASE + sync.timedelta(seconds=1)
    assert sync._claim(linked.pk, later)
