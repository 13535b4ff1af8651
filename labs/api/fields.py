"""Serializer fields shared by every app's API."""

from __future__ import annotations

from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset; a datetime without one is a 400, never silently taken as local time."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "Give the datetime with a UTC offset, e.g. 2026-11-24T09:00:00+01:00 or ...Z.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = super().to_internal_value(value)
            # DRF makes naive input aware in the current zone; we refuse it instead.
            text = value.strip()
            if not (text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]):
                self.fail("naive")
            return parsed
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose datetimes refuse input without an offset."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
    }


ModelSerializer.serializer_field_mapping[serializers.models.DateTimeField] = AwareDateTimeField
