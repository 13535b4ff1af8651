from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy


class LabsConfig(AppConfig):
    """The core. Its periodic tasks, like every app's, are declared in settings.CELERY_BEAT_SCHEDULE."""

    name = "labs"
    verbose_name = gettext_lazy("Labs core")

    def ready(self) -> None:
        from labs import (
            lookups,  # noqa: F401  (registers ``field__any``: labs/lookups.py)
            rights,
            services_privacy,
        )

        rights.register_source(services_privacy.LABS_SOURCE)
        rights.register_purge("labs.sign_in_and_outbox_and_sessions", services_privacy.labs_retention_purge)
        rights.register_purge("labs.ended_memberships", services_privacy.memberships_ended_erase)


class LabsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, whose ``admin.site`` is the labs site: its login goes through the one sign-in throttle
    and staff need a verified second factor (labs/admin_site.py)."""

    default = False  # named in INSTALLED_APPS; LabsConfig stays the default config of labs
    default_site = "labs.admin_site.LabsAdminSite"
