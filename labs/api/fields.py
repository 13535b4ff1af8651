"""Serializer fields shared by every app's API: they refuse what the server cannot take, and the schema says so.

- ``AwareDateTimeField``: ISO 8601 with a UTC offset (a naive datetime is a 400, never silently local time), an
  offset of at most ±15:59 and a year from 2 to 9998 (converting 0001-01-01 or 9999-12-31 between local time and
  UTC overflows); the schema carries the same ``pattern``.
- ``DateField``: ``YYYY-MM-DD`` in the same years.
- ``CharField``: a JSON string (not a number coerced to one); ``single_line=True`` (the default) refuses control
  characters and line separators, as the models do.
- ``IntegerField`` / ``BooleanField``: JSON integers and booleans only (``"1"`` or ``1.0`` is not an id, ``"yes"``
  not a boolean), as the schema says.
"""

from __future__ import annotations

import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.validators import (
    DATE_PATTERN,
    DATE_RE,
    DATETIME_PATTERN,
    DATETIME_RE,
    SingleLineValidator,
    validate_single_line,
)

NAIVE_MESSAGE = "Give the datetime with a UTC offset, e.g. 2026-11-24T09:00:00+01:00 or ...Z."
DATETIME_MESSAGE = (
    "Give an ISO 8601 datetime with a UTC offset of at most ±15:59 between years 2 and 9998, "
    "e.g. 2026-11-24T09:00:00+01:00."
)
DATE_MESSAGE = "Give a date as YYYY-MM-DD between years 2 and 9998."


def looks_naive(text: str) -> bool:
    return not (text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:])


@extend_schema_field({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN})
class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset; a datetime without one is a 400, never silently taken as local time."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "invalid": DATETIME_MESSAGE,
        "naive": NAIVE_MESSAGE,
    }

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        text = value.strip()
        if text.endswith("z"):
            text = text[:-1] + "Z"
        if not DATETIME_RE.fullmatch(text):
            self.fail("naive" if DATETIME_RE.fullmatch(text + "Z") else "invalid")
        return super().to_internal_value(text)


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class DateField(serializers.DateField):
    default_error_messages = {**serializers.DateField.default_error_messages, "invalid": DATE_MESSAGE}

    def to_internal_value(self, value):
        if not isinstance(value, str) or not DATE_RE.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class CharField(serializers.CharField):
    default_error_messages = {**serializers.CharField.default_error_messages, "invalid": "Give a string."}

    def __init__(self, *, single_line: bool = True, **kwargs):
        super().__init__(**kwargs)
        if single_line:
            self.validators.append(SingleLineValidator(allow_empty=True) if self.allow_blank else validate_single_line)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class EmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DecimalField(serializers.DecimalField):
    """A JSON number (not a numeric string)."""

    def to_internal_value(self, data):
        if not isinstance(data, int | float) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class IntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class BooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Give true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose datetimes refuse input without an offset, and whose strings are strings."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
    }


ModelSerializer.serializer_field_mapping[serializers.models.DateTimeField] = AwareDateTimeField
ModelSerializer.serializer_field_mapping[serializers.models.CharField] = CharField


def _plain(field: serializers.Field) -> bool:
    """A field that keeps no state of a request beyond what ``bind()`` sets, and reads no parent or context."""
    if isinstance(
        field,
        (
            serializers.BaseSerializer,
            serializers.RelatedField,
            serializers.ManyRelatedField,
            serializers.HiddenField,
            serializers.SerializerMethodField,
        ),
    ):
        return False
    if getattr(field.default, "requires_context", False):
        return False
    child = getattr(field, "child", None)
    return child is None or _plain(child)


class FlatInputSerializer(serializers.Serializer):
    """An input serializer of plain fields whose fields are copied shallowly for each instance, not deep-copied.

    DRF deep-copies every declared field for each serializer it makes (``Field.__deepcopy__`` builds the field again
    from its arguments, a list's child too): about 0.1 ms for the booking create's ten fields, paid on every request
    (docs/scaling.md). A plain field keeps nothing of a request but what ``bind()`` sets on it, so a shallow copy of
    the declared field is as good; a field that does keep or read more (a nested serializer, a relation, a default
    that reads the context) is refused when the class is defined.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            if not _plain(field):
                raise TypeError(f"{cls.__name__}.{name}: a FlatInputSerializer takes plain fields only")

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}
