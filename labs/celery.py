"""The Celery application. Tasks live in each app's tasks.py; periodic tasks join CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labs.settings")

app = Celery("labs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_pool_process(**kwargs) -> None:
    """Each pool process, once forked with Django, the app and its tasks loaded, keeps what it started with out of
    the collector's full collections, as the web workers and the bridge do (labs/runtime.py). Without it a task
    that builds thousands of rows (a fan-out's commands and outbox messages) paid ~0.6 s of full collections in 3 s
    (bench/comfort.py, measured with ``gc.callbacks``)."""
    from labs.runtime import freeze_startup_objects

    freeze_startup_objects()
