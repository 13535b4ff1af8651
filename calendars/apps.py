from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "calendars"
    verbose_name = gettext_lazy("Calendars (Google Workspace, Microsoft 365)")

    def ready(self) -> None:
        from bookings import events
        from calendars import handlers

        # Every booking change of a room, from any door, is written after commit to the room's calendar (when linked)
        # and to its organiser's own calendar (when connected).
        events.on_bookings_changed(handlers.on_bookings_changed)

        from calendars import personal, rights_rooms
        from labs.rights import PersonalDataSource, register_source

        register_source(
            PersonalDataSource(
                name="calendars",
                export=personal.personal_data_export,
                erase=personal.personal_data_erase,
                order=50,
                title=gettext_lazy("Your connected calendar"),
            )
        )
        # Room calendars' events organised by the person (labs.rights).
        rights_rooms.register()
