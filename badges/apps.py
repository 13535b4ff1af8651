from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class BadgesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "badges"
    verbose_name = gettext_lazy("Badges, visitors and access")

    def ready(self) -> None:
        from badges import handlers, rights, services, simulator
        from labs import hooks, mqtt_router, simulators

        hooks.register_access_revoked(services.badges_revoke_for_person)
        rights.register()
        # alone: each decision's audit row is committed durably before the reader gets its answer, never in a batch
        mqtt_router.register(handlers.SCAN_TOPIC_FILTER, handlers.handle_scan, alone=True)
        simulators.register("badge readers", simulator.run_site_readers)
