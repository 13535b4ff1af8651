from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


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


class LabsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, whose ``admin.site`` is the labs site: its login goes through the one sign-in throttle
    and staff need a verified second factor (labs/admin_site.py)."""

    default = False  # named in INSTALLED_APPS; LabsConfig stays the default config of labs
    default_site = "labs.admin_site.LabsAdminSite"
