"""Filters of the badge and visit lists."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from badges.choices import BadgeKind, BadgeStatus
from badges.models import Badge, Visit


class AwareDateTimeFormField(forms.DateTimeField):
    """ISO 8601 with a UTC offset; without one the request is a 400 (never silently local time)."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if not (text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]):
                raise ValidationError("Give the datetime with a UTC offset, e.g. 2026-11-24T09:00:00+01:00.")
        return super().to_python(value)


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeFormField


class BadgeFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BadgeStatus.choices)
    kind = django_filters.ChoiceFilter(choices=BadgeKind.choices)
    person = django_filters.NumberFilter(field_name="person_id")

    class Meta:
        model = Badge
        fields = ["status", "kind", "person"]


class VisitFilterSet(django_filters.FilterSet):
    """``from`` and ``to``: visits overlapping that window; ``site``: a site slug."""

    start = AwareDateTimeFilter(field_name="end", lookup_expr="gt", label="from")
    end = AwareDateTimeFilter(field_name="start", lookup_expr="lt", label="to")
    site = django_filters.CharFilter(field_name="site__slug", max_length=40)

    class Meta:
        model = Visit
        fields = ["start", "end", "site"]
