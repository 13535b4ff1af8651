from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Labs core"

    def ready(self) -> None:
        from django.conf import settings

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "labs-purge-sign-in-counters",
            {"task": "labs.tasks.sign_in_counters_purge", "schedule": 3600.0},
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "labs-outbox-purge", {"task": "labs.tasks.outbox_purge", "schedule": 3600.0}
        )
