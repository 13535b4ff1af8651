from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ComfortConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "comfort"
    verbose_name = gettext_lazy("Comfort (desks, HVAC, fans)")

    def ready(self) -> None:
        from bookings import events
        from comfort import handlers, services
        from labs import mqtt_router, outbox, topics

        for topic_filter, handler in handlers.ROUTES.items():
            mqtt_router.register(topic_filter, handler, coalesce=topic_filter in handlers.COALESCED)
        for topic_filter, batch_handler in handlers.BATCH_ROUTES.items():
            mqtt_router.register_batch(topic_filter, batch_handler, replaces=handlers.ROUTES[topic_filter])
        mqtt_router.register_lock(services.devices_lock_for_topics)
        # Every door that starts or ends a checked-in desk booking moves the desk: bookings announces it after commit.
        events.on_desk_occupancy_changed(services.on_desk_occupancy_changed)
        outbox.register_sent(topics.topic_filter("desired"), handlers.on_desired_sent)

        from comfort import rights

        rights.register()
