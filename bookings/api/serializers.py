"""Input and output shapes of the bookings API. Datetimes go out in the site's time zone (with its offset)."""

from __future__ import annotations

from rest_framework import serializers

from bookings.choices import CancelScope
from bookings.models import Booking, Desk, Room
from labs.api import fields
from labs.api.fields import AwareDateTimeField
from labs.models import Person

MAX_ID = 2**63 - 1


def _local(value, site) -> str | None:
    return value.astimezone(site.tz).isoformat() if value is not None else None


class RoomOutputSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    floor = serializers.IntegerField(source="floor.level", read_only=True)
    floor_name = serializers.CharField(source="floor.name", read_only=True)

    class Meta:
        model = Room
        fields = ["id", "name", "site", "floor", "floor_name", "capacity", "amenities", "buffer_minutes"]


class DeskOutputSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    floor = serializers.IntegerField(source="floor.level", read_only=True)
    zone = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Desk
        fields = ["id", "label", "site", "floor", "zone", "amenities"]


class AvailabilityQuerySerializer(serializers.Serializer):
    date = fields.DateField()


_CREATED_AT = serializers.DateTimeField()  # as the ModelSerializer maps created_at: ISO 8601 in UTC ("Z")


class BookingOutputSerializer(serializers.ModelSerializer):
    """A booking as its organiser (or staff) sees it."""

    room = serializers.SerializerMethodField()
    desk = serializers.SerializerMethodField()
    organiser = serializers.SerializerMethodField()
    site = serializers.CharField(source="site.slug", read_only=True)
    timezone = serializers.CharField(source="site.timezone", read_only=True)
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    checked_in_at = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "uid",
            "site",
            "timezone",
            "room",
            "desk",
            "organiser",
            "title",
            "attendees",
            "start",
            "end",
            "status",
            "source",
            "series",
            "is_moved",
            "checked_in_at",
            "override_reason",
            "created_at",
        ]

    def to_representation(self, instance) -> dict:
        """The document the fields above describe (and the schema shows), built directly: DRF would build and walk
        eighteen field objects per booking, for every booking created and every row of a list page.
        tests/bookings/test_api_serializers.py holds it equal to DRF's own rendering of the fields."""
        site = instance.site
        return {
            "id": instance.pk,
            "uid": str(instance.uid),
            "site": site.slug,
            "timezone": site.timezone,
            "room": self.get_room(instance),
            "desk": self.get_desk(instance),
            "organiser": self.get_organiser(instance),
            "title": instance.title,
            "attendees": instance.attendees,
            "start": _local(instance.start, site),
            "end": _local(instance.end, site),
            "status": str(instance.status),
            "source": str(instance.source),
            "series": instance.series_id,
            "is_moved": instance.is_moved,
            "checked_in_at": _local(instance.checked_in_at, site),
            "override_reason": instance.override_reason,
            "created_at": _CREATED_AT.to_representation(instance.created_at),
        }

    def get_room(self, obj) -> dict | None:
        return {"id": obj.room_id, "name": obj.room.name} if obj.room_id else None

    def get_desk(self, obj) -> dict | None:
        return {"id": obj.desk_id, "label": obj.desk.label} if obj.desk_id else None

    def get_organiser(self, obj) -> dict:
        return {"id": obj.organiser_id, "name": obj.organiser.display_name}

    def get_start(self, obj) -> str:
        return _local(obj.start, obj.site)

    def get_end(self, obj) -> str:
        return _local(obj.end, obj.site)

    def get_checked_in_at(self, obj) -> str | None:
        return _local(obj.checked_in_at, obj.site)


class BookingCreateInputSerializer(fields.FlatInputSerializer):
    """``room`` or ``desk``, never both (the schema says so with ``oneOf``)."""

    schema_rules = {"oneOf": [{"required": ["room"]}, {"required": ["desk"]}]}

    room = fields.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    desk = fields.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    title = fields.CharField(max_length=200, required=False, allow_blank=True, default="")
    attendees = serializers.ListField(child=fields.EmailField(), required=False, default=list, max_length=200)
    recurrence = fields.CharField(max_length=300, required=False, allow_blank=False)
    skip_conflicts = fields.BooleanField(required=False, default=False)
    organiser = fields.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="a person's id (staff)")
    override_reason = fields.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate_organiser(self, value: int):
        person = Person.objects.filter(pk=value).first()
        if person is None:
            raise serializers.ValidationError("No such person.")
        return person

    def validate(self, attrs):
        if ("room" in attrs) == ("desk" in attrs):
            raise serializers.ValidationError({"room": ["Give either a room or a desk."]})
        return attrs


class BookingUpdateInputSerializer(serializers.Serializer):
    start = AwareDateTimeField(required=False)
    end = AwareDateTimeField(required=False)
    title = fields.CharField(max_length=200, required=False, allow_blank=True)
    attendees = serializers.ListField(child=fields.EmailField(), required=False, max_length=200)
    override_reason = fields.CharField(max_length=300, required=False, allow_blank=True, default="")


class BookingCancelInputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=CancelScope.choices, default=CancelScope.ONE)


class SeriesCreatedOutputSerializer(BookingOutputSerializer):
    """The first booked occurrence, with the series and what was skipped."""

    occurrences = serializers.SerializerMethodField()
    skipped = serializers.SerializerMethodField()

    class Meta(BookingOutputSerializer.Meta):
        fields = [*BookingOutputSerializer.Meta.fields, "occurrences", "skipped"]

    def to_representation(self, instance) -> dict:
        return {
            **super().to_representation(instance),
            "occurrences": self.get_occurrences(instance),
            "skipped": self.get_skipped(instance),
        }

    def get_occurrences(self, obj) -> list[dict]:
        return [
            {"id": b.pk, "start": _local(b.start, obj.site), "end": _local(b.end, obj.site)}
            for b in self.context["result"].bookings
        ]

    def get_skipped(self, obj) -> list[str]:
        return self.context["result"].skipped


class BookingListFilterSerializer(serializers.Serializer):
    start = AwareDateTimeField(required=False)
    end = AwareDateTimeField(required=False)
    room = fields.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    desk = fields.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class CalendarFeedOutputSerializer(serializers.Serializer):
    url = serializers.CharField()


class _Percent(serializers.FloatField):
    """A JSON number from 0 to 100 (not a numeric string, not a boolean)."""

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=100, allow_null=True, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, int | float) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class PlanPositionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["desk", "room"])
    id = fields.IntegerField(min_value=1, max_value=MAX_ID)
    x = _Percent(help_text="Percent of the plan's width from the left; null: off the plan.")
    y = _Percent(help_text="Percent of the plan's height from the top; null: off the plan.")


class PlanPositionsInputSerializer(serializers.Serializer):
    positions = PlanPositionSerializer(many=True, max_length=1000)


class PlanPositionsOutputSerializer(serializers.Serializer):
    desks = serializers.IntegerField(help_text="Desks placed or taken off the plan.")
    rooms = serializers.IntegerField(help_text="Rooms placed or taken off the plan.")
