from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from comfort import contract
from comfort.models import Command, Device, Preference
from labs.api import fields


@extend_schema_field(
    {
        "type": "number",
        "minimum": float(contract.SETPOINT_C[0]),
        "maximum": float(contract.SETPOINT_C[1]),
        "multipleOf": float(contract.SETPOINT_STEP_C),
    }
)
class SetpointField(fields.DecimalField):
    """A temperature setpoint in °C: in range, in steps of 0.5 (MQTT.md), as the schema says."""


class PreferenceSerializer(serializers.ModelSerializer):
    """Ranges as in MQTT.md; the model's full_clean() is the rule, these give the field errors early."""

    desk_sit_height_mm = fields.IntegerField(min_value=contract.DESK_HEIGHT_MM[0], max_value=1270)
    desk_stand_height_mm = fields.IntegerField(min_value=contract.DESK_HEIGHT_MM[0], max_value=1270)
    temperature_c = SetpointField(
        max_digits=3,
        decimal_places=1,
        min_value=contract.SETPOINT_C[0],
        max_value=contract.SETPOINT_C[1],
        coerce_to_string=False,
    )
    fan_speed_pct = fields.IntegerField(min_value=0, max_value=100)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Preference
        fields = ["desk_sit_height_mm", "desk_stand_height_mm", "temperature_c", "fan_speed_pct", "updated_at"]
        read_only_fields = ["updated_at"]


class CommandBriefSerializer(serializers.ModelSerializer):
    device = serializers.CharField(source="device.device_id")

    class Meta:
        model = Command
        fields = ["id", "cmd_id", "device", "version", "state"]


class CommandSerializer(serializers.ModelSerializer):
    device = serializers.CharField(source="device.device_id")
    kind = serializers.CharField(source="device.kind")

    class Meta:
        model = Command
        fields = [
            "id",
            "cmd_id",
            "device",
            "kind",
            "version",
            "state",
            "desired",
            "reason",
            "issued_at",
            "valid_until",
            "attempts",
            "progress",
            "result_code",
            "result_detail",
            "queued_at",
            "sent_at",
            "delivered_at",
            "in_progress_at",
            "applied_at",
            "rejected_at",
            "failed_at",
            "timed_out_at",
            "expired_at",
            "superseded_at",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="device_id")
    site = serializers.CharField(source="site.slug")
    desk = serializers.CharField(source="desk.label", allow_null=True, default=None)
    zone = serializers.CharField(source="zone.slug", allow_null=True, default=None)
    last_command = serializers.SerializerMethodField()
    dropped_messages = serializers.IntegerField(
        read_only=True, default=0, help_text="Messages from this device the bridge refused (labs/mqtt_payloads.py)."
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "kind",
            "site",
            "desk",
            "zone",
            "online",
            "last_seen_at",
            "desired_version",
            "desired",
            "reported_version",
            "reported",
            "reported_at",
            "telemetry",
            "telemetry_at",
            "last_command",
            "dropped_messages",
        ]

    def get_last_command(self, device: Device) -> dict | None:
        commands = getattr(device, "latest_commands", None)
        if commands is None:
            commands = list(device.commands.order_by("-version")[:1])
        return CommandBriefSerializer(commands[0]).data if commands else None


class WorkspaceOutputSerializer(serializers.Serializer):
    booking = serializers.IntegerField(source="booking.pk")
    commands = CommandBriefSerializer(many=True)
