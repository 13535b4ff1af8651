from django.apps import AppConfig


class BookingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bookings"

    def ready(self) -> None:
        from django.conf import settings

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "bookings-release-no-shows",
            {"task": "bookings.tasks.release_no_shows", "schedule": 60.0},
        )
