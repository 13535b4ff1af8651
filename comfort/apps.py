from django.apps import AppConfig


class ComfortConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "comfort"
