from django.db import models
from django.utils.translation import gettext_lazy


class RunState(models.TextChoices):
    QUEUED = "queued", gettext_lazy("Queued")
    RUNNING = "running", gettext_lazy("Running")
    DONE = "done", gettext_lazy("Done")
    FAILED = "failed", gettext_lazy("Failed")


class RunTrigger(models.TextChoices):
    NIGHTLY = "nightly", gettext_lazy("Nightly (beat)")
    ON_DEMAND = "on_demand", gettext_lazy("On demand")


class RecommendationKind(models.TextChoices):
    ADD_ROOMS = "add_rooms", gettext_lazy("Add rooms")
    CONVERT_TO_DESKS = "convert_to_desks", gettext_lazy("Convert rooms to desks")
    RIGHT_SIZE = "right_size", gettext_lazy("Right-size rooms")
    PREFERRED = "preferred", gettext_lazy("Preferred rooms")


class Confidence(models.TextChoices):
    HIGH = "high", gettext_lazy("High")
    MEDIUM = "medium", gettext_lazy("Medium")
    LOW = "low", gettext_lazy("Low")
