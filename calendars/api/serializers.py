"""Input and output shapes of the calendars API. Credentials are write-only: never in any output."""

from __future__ import annotations

from rest_framework import serializers

from calendars.choices import ProviderName
from calendars.models import Connection
from labs.api import fields


def _local(value, tz) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


class ConnectionCreateInputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=ProviderName.choices)
    site = serializers.SlugField(max_length=40)
    name = fields.CharField(max_length=120)
    credentials = serializers.DictField()


class RoomHealthOutputSerializer(serializers.Serializer):
    room = serializers.IntegerField()
    room_name = serializers.CharField()
    calendar_id = serializers.CharField()
    status = serializers.CharField()
    last_sync_at = serializers.DateTimeField(allow_null=True)
    last_full_sync_at = serializers.DateTimeField(allow_null=True)
    last_sync_requests = serializers.IntegerField()
    last_sync_changes = serializers.IntegerField()
    watch_expires_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    last_error_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        tz = self.context.get("tz")
        if tz is not None:
            for name in ("last_sync_at", "last_full_sync_at", "watch_expires_at", "last_error_at"):
                data[name] = _local(instance[name], tz)
        return data


class ConnectionOutputSerializer(serializers.ModelSerializer):
    """A connection and its health (no credentials)."""

    site = serializers.CharField(source="site.slug", read_only=True)
    error = serializers.CharField(source="last_error", read_only=True)
    rooms = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = ["id", "provider", "site", "name", "status", "error", "created_at", "rooms"]

    def get_rooms(self, connection) -> list[dict]:
        from calendars.selectors import calendar_health

        tz = connection.site.tz
        return [
            RoomHealthOutputSerializer(calendar_health(c), context={"tz": tz}).data for c in connection.calendars.all()
        ]


class ResourceOutputSerializer(serializers.Serializer):
    calendar_id = serializers.CharField()
    name = serializers.CharField()
    capacity = serializers.IntegerField(allow_null=True)
    building = serializers.CharField(allow_blank=True)
    floor = serializers.CharField(allow_blank=True)


class RoomCalendarInputSerializer(serializers.Serializer):
    connection = serializers.IntegerField()
    calendar_id = fields.CharField(max_length=255)


class SyncQueuedOutputSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
