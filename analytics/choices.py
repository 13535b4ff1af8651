from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RunTrigger(models.TextChoices):
    NIGHTLY = "nightly", "Nightly (beat)"
    ON_DEMAND = "on_demand", "On demand"


class RecommendationKind(models.TextChoices):
    ADD_ROOMS = "add_rooms", "Add rooms"
    CONVERT_TO_DESKS = "convert_to_desks", "Convert rooms to desks"
    RIGHT_SIZE = "right_size", "Right-size rooms"
    PREFERRED = "preferred", "Preferred rooms"


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
