"""Celery at scale: a worker SIGKILLed mid-task loses nothing and does nothing twice (real Redis and PostgreSQL).

Two real worker processes on a private queue: the first is killed (SIGKILL, its whole process group) while it runs
tasks; the second picks up what the first held once the broker's visibility timeout (shortened to a few seconds for
the test) passes. Every task's effect is there exactly once, and the killed ones ran more than once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
TASKS = 12
SECONDS = 1.5
VISIBILITY_S = 6


def _worker(queue: str, name: str, log: Path) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labs.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S),
        # look for the dead worker's messages at every restore tick (10 s), not every tenth: kombu's throttle would
        # otherwise leave them unseen for up to 100 s if its first look came before the timeout passed
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "CELERY_TASK_TIME_LIMIT": "5",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "labs",
            "worker",
            "-I",
            "tests.celery_probe",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_worker_killed_mid_task_loses_nothing_and_does_nothing_twice(tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from labs.celery import app
    from tests.celery_probe import probe

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS celery_probe_attempt (id serial primary key, key text not null)")
        cursor.execute("CREATE TABLE IF NOT EXISTS celery_probe_done (key text primary key)")
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False
    keys = [f"k{n}" for n in range(TASKS)]
    first = second = None
    try:
        for key in keys:
            probe.apply_async((key, SECONDS), queue=queue)
        first = _worker(queue, "first", tmp_path / "first.log")
        _wait(lambda: _count("SELECT count(*) FROM celery_probe_attempt") >= 2, 40, "the first worker to start tasks")
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-task
        first.wait(10)
        killed_mid_task = _count("SELECT count(*) FROM celery_probe_attempt") - _count(
            "SELECT count(*) FROM celery_probe_done"
        )
        assert killed_mid_task >= 1
        second = _worker(queue, "second", tmp_path / "second.log")
        _wait(lambda: _count("SELECT count(*) FROM celery_probe_done") >= TASKS, 50, "every task done")
        time.sleep(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT key FROM celery_probe_done ORDER BY key")
            done = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT key, count(*) FROM celery_probe_attempt GROUP BY key HAVING count(*) > 1")
            retried = dict(cursor.fetchall())
        assert done == sorted(keys)  # each task's effect exactly once, none lost
        assert retried, "the tasks the killed worker held ran again on the second worker"
    finally:
        for worker in (first, second):
            if worker and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        app.conf.task_always_eager = True
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS celery_probe_attempt, celery_probe_done")
