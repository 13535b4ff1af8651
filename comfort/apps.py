from django.apps import AppConfig


class ComfortConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "comfort"
    verbose_name = "Comfort (desks, HVAC, fans)"

    def ready(self) -> None:
        from django.conf import settings

        from comfort import handlers
        from labs import mqtt_router, outbox, topics

        for topic_filter, handler in handlers.ROUTES.items():
            mqtt_router.register(topic_filter, handler)
        outbox.register_sent(topics.topic_filter("desired"), handlers.on_desired_sent)

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "comfort-commands-sweep", {"task": "comfort.tasks.commands_sweep", "schedule": 5.0}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "comfort-history-purge", {"task": "comfort.tasks.comfort_history_purge", "schedule": 3600.0}
        )
