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

        from calendars import personal, rights_rooms
        from labs.rights import PersonalDataSource, register_source

        # The bookings a person organises are written to their own calendar too (personal calendars).
        events.on_bookings_changed(personal.on_bookings_changed)
        register_source(
            PersonalDataSource(
                name="calendars",
                export=personal.personal_data_export,
                erase=personal.personal_data_erase,
                order=50,
            )
        )
        # Room calendars' events organised by the person (labs.rights).
        rights_rooms.register()
