"""Filters of the badge and visit lists."""

from __future__ import annotations

import django_filters

from badges.choices import BadgeKind, BadgeStatus
from badges.models import Badge, Visit
from labs.api.filters import AwareDateTimeFilter, FilterSet, IdFilter, SlugFilter


class BadgeFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=BadgeStatus.choices)
    kind = django_filters.ChoiceFilter(choices=BadgeKind.choices)
    person = IdFilter(field_name="person_id")

    class Meta:
        model = Badge
        fields = ["status", "kind", "person"]


class VisitFilterSet(FilterSet):
    """``from`` and ``to``: visits overlapping that window; ``site``: a site slug."""

    start = AwareDateTimeFilter(field_name="end", lookup_expr="gt", label="from")
    end = AwareDateTimeFilter(field_name="start", lookup_expr="lt", label="to")
    site = SlugFilter(field_name="site__slug", max_length=40)

    class Meta:
        model = Visit
        fields = ["start", "end", "site"]
