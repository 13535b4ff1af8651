"""Input and output shapes of the analytics API (contracts/ANALYTICS.md)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics.models import Run


class PeriodQuerySerializer(serializers.Serializer):
    """``site`` (slug, default the caller's), ``from`` and ``to`` (local dates, both included; default the last
    12 weeks up to yesterday)."""

    site = serializers.SlugField(required=False, max_length=40)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        dates = serializers.DateField()
        errors = {}
        for name in ("from", "to"):
            if data.get(name):
                try:
                    values[name] = dates.to_internal_value(data.get(name))
                except serializers.ValidationError as exc:
                    errors[name] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        if values.get("from") and values.get("to") and values["to"] < values["from"]:
            raise serializers.ValidationError({"to": ["Must be on or after from."]})
        return values


def default_period(values: dict, tz) -> tuple:
    """``from`` and ``to`` as given, else the 12 weeks up to yesterday in the site's zone."""
    date_to = values.get("to") or timezone.now().astimezone(tz).date() - timedelta(days=1)
    date_from = values.get("from") or date_to - timedelta(days=83)
    if date_to < date_from:
        raise serializers.ValidationError({"to": ["Must be on or after from."]})
    return date_from, date_to


class RunCreateInputSerializer(serializers.Serializer):
    site = serializers.SlugField(max_length=40, required=False)
    date_from = serializers.DateField()
    date_to = serializers.DateField()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = {**data, "date_from": data.get("from"), "date_to": data.get("to")}
            for key in ("from", "to"):
                data.pop(key, None)
        return super().to_internal_value(data)


class RunOutputSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.slug", read_only=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "site", "state", "progress", "error", "trigger", "date_from", "date_to", "days_recomputed",
                  "created_at", "started_at", "finished_at"]  # fmt: skip

    def get_error(self, obj) -> str | None:
        return obj.error or None
