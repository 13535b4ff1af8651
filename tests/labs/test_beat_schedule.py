"""Every periodic task is declared in one place (settings.CELERY_BEAT_SCHEDULE) and names a task that exists."""

import importlib.util

from django.conf import settings

from labs.celery import app


def test_every_scheduled_task_exists():
    app.loader.import_default_modules()
    missing = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]

    assert missing == []


def test_the_schedule_is_declared_in_settings_only():
    # A fresh copy of the settings module, as written, before any AppConfig.ready() ran.
    spec = importlib.util.spec_from_file_location("fresh_settings", settings.BASE_DIR / "labs" / "settings.py")
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)

    assert settings.CELERY_BEAT_SCHEDULE == fresh.CELERY_BEAT_SCHEDULE  # no app adds to it behind the settings' back


def test_the_sweeps_that_keep_promises_are_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {
        "bookings.tasks.release_no_shows",
        "bookings.tasks.complete_ended",
        "comfort.tasks.commands_sweep",
        "comfort.tasks.workspace_reconcile",
        "badges.tasks.badges_sweep",
        "analytics.tasks.runs_sweep",
    } <= tasks
