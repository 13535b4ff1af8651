"""Bookable resources (rooms, desks) and bookings of them."""

from __future__ import annotations

from django.db import models

from labs import privacy
from labs.models import Floor, Site, Zone


class Room(models.Model):
    """A conference room that people book by the hour."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rooms")
    floor = models.ForeignKey(Floor, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=120)
    capacity = models.PositiveSmallIntegerField()
    amenities = models.JSONField(default=list, blank=True, help_text='e.g. ["screen", "video", "whiteboard"]')
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "floor", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="room_unique_name_per_site",
                violation_error_message="This site already has a room with that name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.capacity})"


class Desk(models.Model):
    """A desk in a zone; its height-adjustable frame and the zone's HVAC are comfort devices."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="desks")
    floor = models.ForeignKey(Floor, on_delete=models.PROTECT, related_name="desks")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="desks")
    label = models.CharField(max_length=40)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "label"],
                name="desk_unique_label_per_site",
                violation_error_message="This site already has a desk with that label.",
            ),
        ]

    def __str__(self) -> str:
        return self.label


privacy.not_personal(Room, name="a room's name")
