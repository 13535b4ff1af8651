from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class BadgesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "badges"
    verbose_name = gettext_lazy("Badges, visitors and access")

    def ready(self) -> None:
        from badges import handlers, services, simulator
        from labs import hooks, mqtt_router, simulators

        hooks.register_access_revoked(services.badges_revoke_for_person)

        from badges import rights

        rights.register()
        mqtt_router.register(handlers.SCAN_TOPIC_FILTER, handlers.handle_scan)
        simulators.register("badge readers", simulator.run_site_readers)
