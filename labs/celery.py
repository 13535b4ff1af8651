"""The Celery application. Tasks live in each app's tasks.py; periodic tasks join CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labs.settings")

app = Celery("labs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
