from django.apps import AppConfig


class BookingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bookings"

    def ready(self) -> None:
        from bookings import rights, services
        from labs import hooks

        hooks.register_access_revoked(services.bookings_end_for_person)
        rights.register()
