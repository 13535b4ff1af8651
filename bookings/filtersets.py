"""Filters of the rooms, desks and bookings lists. The free-window filter is one selector call, not a filter chain."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from bookings import selectors
from bookings.models import Booking, Desk, Room
from labs.models import Site

MAX_WINDOW = timedelta(days=31)


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


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class AnyValueMultipleFilter(django_filters.MultipleChoiceFilter):
    """Repeatable (``?amenity=screen&amenity=video``); any short name is valid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[], **kwargs)

    @property
    def field(self):
        field = super().field
        field.valid_value = lambda value: isinstance(value, str) and 0 < len(value) <= 40
        return field


class _FreeWindowFilterSet(django_filters.FilterSet):
    site = django_filters.ModelChoiceFilter(
        queryset=Site.objects.all(), to_field_name="slug", method="_noop", label="site slug"
    )
    floor = django_filters.NumberFilter(method="_noop", label="floor level")
    amenity = AnyValueMultipleFilter(method="_noop")
    free_from = AwareDateTimeFilter(method="_noop")
    free_to = AwareDateTimeFilter(method="_noop")

    def _noop(self, queryset, name, value):
        return queryset

    def _window(self) -> tuple:
        data = self.form.cleaned_data
        start, end = data.get("free_from"), data.get("free_to")
        if (start is None) != (end is None):
            raise forms.ValidationError("Give both free_from and free_to.")
        if start is not None and not (start < end <= start + MAX_WINDOW):
            raise forms.ValidationError("free_to must be after free_from, at most 31 days later.")
        return start, end

    def is_valid(self):
        if not super().is_valid():
            return False
        try:
            self._window()
        except forms.ValidationError as exc:
            self.form.add_error("free_to", exc)
            return False
        return True


class RoomFilterSet(_FreeWindowFilterSet):
    capacity_min = django_filters.NumberFilter(method="_noop", min_value=1)

    class Meta:
        model = Room
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        start, end = self._window()
        return selectors.room_search(
            queryset=queryset,
            site=data.get("site"),
            capacity_min=int(data["capacity_min"]) if data.get("capacity_min") else None,
            amenities=list(data.get("amenity") or []),
            floor_level=int(data["floor"]) if data.get("floor") is not None else None,
            free_from=start,
            free_to=end,
        )


class DeskFilterSet(_FreeWindowFilterSet):
    zone = django_filters.CharFilter(method="_noop", max_length=40, label="zone slug")
    capacity_min = django_filters.NumberFilter(method="_noop", min_value=1)

    class Meta:
        model = Desk
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        start, end = self._window()
        if data.get("capacity_min") and data["capacity_min"] > 1:
            return queryset.none()  # a desk seats one
        if data.get("zone"):
            queryset = queryset.filter(zone__slug=data["zone"])
        return selectors.desk_search(
            queryset=queryset,
            site=data.get("site"),
            amenities=list(data.get("amenity") or []),
            floor_level=int(data["floor"]) if data.get("floor") is not None else None,
            free_from=start,
            free_to=end,
        )


class BookingFilterSet(django_filters.FilterSet):
    """``start``/``end``: bookings overlapping that window; ``room``/``desk``: of that resource."""

    start = AwareDateTimeFilter(method="_ends_after")
    end = AwareDateTimeFilter(method="_starts_before")
    room = django_filters.NumberFilter(field_name="room_id")
    desk = django_filters.NumberFilter(field_name="desk_id")
    status = django_filters.MultipleChoiceFilter(choices=Booking._meta.get_field("status").choices)

    class Meta:
        model = Booking
        fields: list[str] = []

    def _ends_after(self, queryset, name, value):
        return queryset.filter(end__gt=value)

    def _starts_before(self, queryset, name, value):
        return queryset.filter(start__lt=value)
