"""Query filters shared by every app's lists: the same rules as the serializer fields, stated in the schema.

``FilterSet`` refuses a filter given with an empty value (``?status=``, ``?start=``) with a 400: leave a filter out
to not filter; an empty value is a mistake (a form or a script that lost its value), never "everything".
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from labs.api.fields import DATE_MESSAGE, DATETIME_MESSAGE, NAIVE_MESSAGE
from labs.validators import (
    DATE_PATTERN,
    DATE_RE,
    DATETIME_PATTERN,
    DATETIME_RE,
    SINGLE_LINE_PATTERN,
    validate_single_line,
)

EMPTY_MESSAGE = "Give a value, or leave this filter out."


class AwareDateTimeFormField(forms.DateTimeField):
    """ISO 8601 with a UTC offset of at most ±15:59, years 2 to 9998; anything else is a 400."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.endswith("z"):
                text = text[:-1] + "Z"
            if not DATETIME_RE.fullmatch(text):
                raise ValidationError(NAIVE_MESSAGE if DATETIME_RE.fullmatch(text + "Z") else DATETIME_MESSAGE)
            value = text
        return super().to_python(value)


class DateFormField(forms.DateField):
    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not DATE_RE.fullmatch(value.strip()):
            raise ValidationError(DATE_MESSAGE)
        return super().to_python(value)


@extend_schema_field({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN})
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeFormField


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class DateFilter(django_filters.Filter):
    field_class = DateFormField


class StrictBooleanFormField(forms.Field):
    def to_python(self, value):
        if value in ("", None):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError("Give true or false.")


@extend_schema_field({"type": "boolean"})
class BooleanFilter(django_filters.Filter):
    """``true`` or ``false``; nothing else (django-filter's own also takes ``null``, ``1``, ``yes``...)."""

    field_class = StrictBooleanFormField


class IntegerFilter(django_filters.NumberFilter):
    """An integer (an id, a count, a floor level); the schema states its bounds."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value: int | None = None, max_value: int | None = None, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        schema = {"type": "integer"}
        schema.update({"minimum": min_value} if min_value is not None else {})
        schema.update({"maximum": max_value} if max_value is not None else {})
        extend_schema_field(schema)(self)


def IdFilter(**kwargs) -> IntegerFilter:  # noqa: N802 - reads as a filter class
    """A primary key: a positive 63-bit integer (a larger one is a 400, not a database overflow)."""
    return IntegerFilter(min_value=1, max_value=2**63 - 1, **kwargs)


class SlugFilter(django_filters.CharFilter):
    """A slug (a site, a zone, a device id): 1 to ``max_length`` characters, no control characters."""

    def __init__(self, *args, max_length: int = 64, **kwargs):
        super().__init__(*args, max_length=max_length, validators=[validate_single_line], **kwargs)
        extend_schema_field(
            {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": SINGLE_LINE_PATTERN}
        )(self)


class FilterSet(django_filters.FilterSet):
    """Every list's filters: an empty value is a 400, as is an unknown enum value (django-filter's choice check)."""

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if name in self.data and any(value in ("", None) for value in values):
                if name not in self.form.errors:
                    self.form.add_error(name, EMPTY_MESSAGE)
                valid = False
        return valid
