"""Filters of the core lists."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from labs.api.filters import BooleanFilter, FilterSet, IdFilter
from labs.choices import Role
from labs.models import Person
from labs.validators import SINGLE_LINE_PATTERN, validate_single_line


class PersonFilterSet(FilterSet):
    """``role``, ``company`` (id), ``is_active``, and ``search``: every word found in the name, username or email."""

    role = django_filters.ChoiceFilter(choices=Role.choices)
    company = IdFilter(field_name="company_id")
    is_active = BooleanFilter(field_name="user__is_active")
    search = extend_schema_field({"type": "string", "minLength": 1, "maxLength": 100, "pattern": SINGLE_LINE_PATTERN})(
        django_filters.CharFilter(
            method="filter_search", max_length=100, label="search", validators=[validate_single_line]
        )
    )

    class Meta:
        model = Person
        fields = ["role", "company", "is_active", "search"]

    def filter_search(self, queryset, name, value):
        for word in value.split()[:5]:
            queryset = queryset.filter(
                Q(user__first_name__icontains=word)
                | Q(user__last_name__icontains=word)
                | Q(user__username__icontains=word)
                | Q(user__email__icontains=word)
            )
        return queryset
