"""Input and output shapes of the analytics API (contracts/ANALYTICS.md)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics.models import Run
from labs.api import fields


class PeriodQuerySerializer(serializers.Serializer):
    """``site`` (slug, default the caller's), ``from`` and ``to`` (local dates, both included; default the last
    12 weeks up to yesterday). A parameter given empty is a 400, as in every list filter."""

    site = serializers.SlugField(required=False, max_length=40)

    def to_internal_value(self, data):
        if data.get("site") == "":
            raise serializers.ValidationError({"site": ["Give a value, or leave this parameter out."]})
        values = super().to_internal_value(data)
        dates = fields.DateField()
        errors = {}
        for name in ("from", "to"):
            if name not in data:
                continue
            try:
                values[name] = dates.run_validation(data.get(name) or None)
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
    date_from = fields.DateField()
    date_to = fields.DateField()

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
