from django.apps import AppConfig


class LabsConfig(AppConfig):
    """The core. Its periodic tasks, like every app's, are declared in settings.CELERY_BEAT_SCHEDULE."""

    name = "labs"
    verbose_name = "Labs core"
