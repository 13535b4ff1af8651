from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "calendars"
    verbose_name = "Calendars (Google Workspace, Microsoft 365)"

    def ready(self) -> None:
        from bookings import events
        from calendars import services

        # Every booking change of a linked room, from any door, is written to the room's calendar after commit.
        events.on_bookings_changed(services.on_bookings_changed)

        from calendars import rights_rooms

        rights_rooms.register()
