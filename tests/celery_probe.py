"""A task for the worker-kill test (tests/labs/test_celery_worker_kill.py), imported by its worker with ``-I``.

It is written like the project's idempotent tasks: its effect is one transaction keyed by the task's own key, so a
redelivery after a worker died either finds the work done or does it; the attempt is counted outside that
transaction, so the test can see the redelivery happened."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import connection, transaction


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, name="tests.celery_probe.probe")
def probe(key: str, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO celery_probe_attempt (key) VALUES (%s)", [key])
    with transaction.atomic():
        time.sleep(seconds)  # killed here: nothing of this transaction is committed
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO celery_probe_done (key) VALUES (%s) ON CONFLICT (key) DO NOTHING", [key])
