"""Filters of the rooms, desks and bookings lists. The free-window filter is one selector call, not a filter chain."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from bookings import selectors
from bookings.models import Booking, Desk, Room
from labs.api.filters import AwareDateTimeFilter, FilterSet, IdFilter, IntegerFilter, SlugFilter
from labs.models import Site
from labs.validators import SINGLE_LINE_PATTERN, control_characters

MAX_WINDOW = timedelta(days=31)


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": SINGLE_LINE_PATTERN}}
)
class AnyValueMultipleFilter(django_filters.MultipleChoiceFilter):
    """Repeatable (``?amenity=screen&amenity=video``); any short name is valid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[], **kwargs)

    @property
    def field(self):
        field = super().field
        field.valid_value = lambda value: (
            isinstance(value, str) and 0 < len(value) <= 40 and not control_characters(value)
        )
        return field


class _FreeWindowFilterSet(FilterSet):
    site = extend_schema_field({"type": "string", "minLength": 1, "maxLength": 40, "pattern": SINGLE_LINE_PATTERN})(
        django_filters.ModelChoiceFilter(
            queryset=Site.objects.all(), to_field_name="slug", method="_noop", label="site slug"
        )
    )
    floor = IntegerFilter(method="_noop", min_value=-32768, max_value=32767, label="floor level")
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

    def _of_site(self, queryset):
        site = self.form.cleaned_data.get("site")
        return queryset.filter(site=site) if site else queryset

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
    capacity_min = IntegerFilter(method="_noop", min_value=1, max_value=10_000)

    class Meta:
        model = Room
        fields: list[str] = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        start, end = self._window()
        return selectors.room_search(
            queryset=self._of_site(queryset),
            capacity_min=int(data["capacity_min"]) if data.get("capacity_min") else None,
            amenities=list(data.get("amenity") or []),
            floor_level=int(data["floor"]) if data.get("floor") is not None else None,
            free_from=start,
            free_to=end,
        )


class DeskFilterSet(_FreeWindowFilterSet):
    zone = SlugFilter(method="_noop", max_length=40, label="zone slug")
    capacity_min = IntegerFilter(method="_noop", min_value=1, max_value=10_000)

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
            queryset=self._of_site(queryset),
            amenities=list(data.get("amenity") or []),
            floor_level=int(data["floor"]) if data.get("floor") is not None else None,
            free_from=start,
            free_to=end,
        )


class BookingFilterSet(FilterSet):
    """``start``/``end``: bookings overlapping that window; ``room``/``desk``: of that resource."""

    start = AwareDateTimeFilter(method="_ends_after")
    end = AwareDateTimeFilter(method="_starts_before")
    room = IdFilter(field_name="room_id")
    desk = IdFilter(field_name="desk_id")
    status = django_filters.MultipleChoiceFilter(choices=Booking._meta.get_field("status").choices)

    class Meta:
        model = Booking
        fields: list[str] = []

    def _ends_after(self, queryset, name, value):
        return queryset.filter(end__gt=value)

    def _starts_before(self, queryset, name, value):
        return queryset.filter(start__lt=value)
