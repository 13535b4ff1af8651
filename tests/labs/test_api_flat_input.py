"""FlatInputSerializer (labs.api.fields): fields copied shallowly per instance validate exactly as DRF's deep copies."""

import pytest
from rest_framework import serializers

from labs.api import fields


def _declared():
    return {
        "room": fields.IntegerField(required=False, min_value=1),
        "title": fields.CharField(max_length=20, required=False, allow_blank=True, default=""),
        "attendees": serializers.ListField(child=fields.EmailField(), required=False, default=list, max_length=3),
    }


Flat = type("Flat", (fields.FlatInputSerializer,), _declared())
Deep = type("Deep", (serializers.Serializer,), _declared())

INPUTS = [
    {"room": 4, "title": "Stand-up", "attendees": ["a@example.test", "b@example.test"]},
    {"room": 4},
    {"room": 0, "title": "x" * 21, "attendees": ["a@example.test", "not an address", 7]},
    {"attendees": ["a@example.test"] * 4},
    {"room": "4", "title": 5},
]


@pytest.mark.parametrize("data", INPUTS)
def test_it_validates_and_refuses_exactly_as_drf(data):
    flat, deep = Flat(data=data), Deep(data=data)

    assert flat.is_valid() == deep.is_valid()
    assert flat.errors == deep.errors
    assert (flat.validated_data if not flat.errors else None) == (deep.validated_data if not deep.errors else None)


def test_each_instance_has_its_own_bound_fields_and_the_declared_ones_stay_unbound():
    first, second = Flat(data=INPUTS[0]), Flat(data=INPUTS[2])
    assert first.is_valid() and not second.is_valid()

    for name, declared in Flat._declared_fields.items():
        assert first.fields[name] is not declared and first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert declared.parent is None and declared.field_name is None and declared.source is None
    # a default list is made anew for each request, never shared
    one, other = Flat(data={}), Flat(data={})
    assert one.is_valid() and other.is_valid()
    assert one.validated_data["attendees"] == []
    assert one.validated_data["attendees"] is not other.validated_data["attendees"]


@pytest.mark.parametrize(
    "field",
    [
        serializers.PrimaryKeyRelatedField(queryset=None, read_only=True),
        serializers.HiddenField(default=serializers.CurrentUserDefault()),
        serializers.ListField(child=serializers.PrimaryKeyRelatedField(read_only=True)),
        Deep(),
    ],
    ids=["relation", "context default", "list of relations", "nested serializer"],
)
def test_a_field_that_reads_its_parent_or_context_is_refused_when_the_class_is_defined(field):
    with pytest.raises(TypeError, match="plain fields only"):
        type("Bad", (fields.FlatInputSerializer,), {"x": field})
