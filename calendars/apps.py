from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "calendars"
    verbose_name = gettext_lazy("Calendars (Google Workspace, Microsoft 365)")

    def ready(self) -> None:
        from bookings import events
        from calendars import services

        # Every booking change of a linked room, from any door, is written to the room's calendar after commit.
        events.on_bookings_changed(services.on_bookings_changed)
