"""labs.prepared.CompiledLookup: the hot paths' lookups with their SQL built once answer exactly as the querysets they
replace (the same rows, related rows, conversions and errors), in one query."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bookings import selectors
from bookings.models import BookingPolicy, Room
from labs.authentication import TOKEN_WITH_PERSON
from labs.prepared import CompiledLookup
from tests.bookings.factories import RoomFactory

pytestmark = pytest.mark.django_db

RELATED = ("user", "user__person", "user__person__site", "user__person__company")


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_token_comes_with_its_user_person_site_and_company_as_the_queryset_gives_them(member):
    token = Token.objects.create(user=member.user)
    expected = Token.objects.select_related(*RELATED).get(key=token.key)
    with CaptureQueriesContext(connection) as queries:
        got = TOKEN_WITH_PERSON.get(key=token.key)
        person = got.user.person
        names = (person.site.name, person.company.name, got.user.username)
    assert len(queries) == 1
    assert names == (member.site.name, member.company.name, member.user.username)
    assert _fields(got) == _fields(expected)
    assert _fields(got.user) == _fields(expected.user)
    assert _fields(person) == _fields(expected.user.person)
    assert _fields(person.site) == _fields(expected.user.person.site)
    assert _fields(person.company) == _fields(expected.user.person.company)
    assert got._state.db == "default" and not got._state.adding


def test_the_sql_is_built_once_per_connection(member):
    keys = [Token.objects.create(user=member.user).key]
    lookup = CompiledLookup(lambda key: Token.objects.select_related("user").filter(key=key), key=str)
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as as_sql:
        for _ in range(3):
            assert lookup.get(key=keys[0]).user_id == member.user_id
    assert as_sql.call_count == 1


def test_an_unknown_or_inactive_row_is_does_not_exist(site):
    room = RoomFactory(site=site)
    assert selectors.bookable_get(Room, room.pk) == room
    Room.objects.filter(pk=room.pk).update(is_active=False)
    with pytest.raises(Room.DoesNotExist):
        selectors.bookable_get(Room, room.pk)
    with pytest.raises(Token.DoesNotExist):
        TOKEN_WITH_PERSON.get(key="0" * 40)


def test_values_are_converted_and_a_missing_reverse_one_to_one_is_known_without_a_query(site):
    BookingPolicy.objects.filter(site=site).delete()
    room = RoomFactory(site=site, amenities=["screen", "video"])
    expected = Room.objects.select_related("site", "site__booking_policy").get(pk=room.pk)
    got = selectors.bookable_get(Room, room.pk)
    assert got.amenities == ["screen", "video"] == expected.amenities
    assert _fields(got) == _fields(expected)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ObjectDoesNotExist):
        got.site.booking_policy  # noqa: B018 - the access is the test
    assert len(queries) == 0


def test_a_site_with_a_policy_brings_it_along(site):
    policy = BookingPolicy.objects.update_or_create(site=site, defaults={"max_days_ahead": 30})[0]
    room = RoomFactory(site=site)
    with CaptureQueriesContext(connection) as queries:
        got = selectors.bookable_get(Room, room.pk)
        assert got.site.booking_policy.max_days_ahead == 30
    assert len(queries) == 1 and got.site.booking_policy.pk == policy.pk


def test_values_of_the_wrong_type_or_name_are_refused_before_any_query(db):
    with CaptureQueriesContext(connection) as queries:
        for bad in ({"key": 40}, {"key": b"x"}, {}, {"key": "x", "other": "y"}):
            with pytest.raises(TypeError):
                TOKEN_WITH_PERSON.get(**bad)
        with pytest.raises(TypeError):
            selectors.bookable_get(Room, True)  # a bool is not a row id
    assert len(queries) == 0


def test_a_lookup_that_changes_its_value_is_refused_when_compiled(db):
    lookup = CompiledLookup(lambda key: Token.objects.filter(key__contains=key), key=str)
    with pytest.raises(ImproperlyConfigured, match="unchanged"):
        lookup.get(key="abc")
    with pytest.raises(ImproperlyConfigured, match="int, str or date"):
        CompiledLookup(lambda at: Token.objects.filter(created=at), at=float)
    values = CompiledLookup(lambda key: Token.objects.filter(key=key).values("key"), key=str)
    with pytest.raises(ImproperlyConfigured, match="plain model queryset"):
        values.get(key="abc")


@pytest.mark.parametrize("key", ["a" * 41, "abc\x00def"])
def test_an_impossible_token_is_refused_without_a_query(db, key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert not [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_hand_written_reads_name_their_columns_so_prepared_statements_survive_a_new_column():
    import re

    from badges import services as badge_services
    from comfort import services as comfort_services
    from comfort.models import Device
    from labs.prepared import columns

    listed = columns(Device, "d")
    assert listed.split(", ") == [f'd."{f.column}"' for f in Device._meta.concrete_fields]
    for sql in (
        comfort_services._DESK_FRAME_SQL,
        badge_services._BADGE_BY_PUBLIC_ID,
        badge_services._BADGE_BY_CARD,
        badge_services._RULES_SQL,
    ):
        assert not re.search(r"\w\.\*|SELECT\s+\*", sql), sql


def test_compiled_rows_read_a_values_list_as_the_queryset_does(member):
    from labs.prepared import CompiledRows

    token = Token.objects.create(user=member.user)
    rows = CompiledRows(
        lambda user: Token.objects.filter(user_id=user).values_list("key", "user__person__site__slug", "created"),
        user=int,
    )
    expected = list(
        Token.objects.filter(user_id=member.user_id).values_list("key", "user__person__site__slug", "created")
    )
    assert rows.rows(user=member.user_id) == expected == [(token.key, member.site.slug, token.created)]
    assert rows.rows(user=member.user_id + 1000) == []
    plain = CompiledRows(lambda key: Token.objects.filter(key=key), key=str)
    with pytest.raises(ImproperlyConfigured, match="values_list"):
        plain.rows(key="abc")


def test_a_date_parameter_is_adapted_as_django_adapts_it(site):
    from datetime import date, datetime

    from bookings.models import Closure
    from bookings.services.rules import closed_days
    from labs.prepared import CompiledRows

    Closure.objects.create(site=site, day=date(2030, 12, 24), reason="Christmas Eve")
    on = CompiledRows(
        lambda site, day: Closure.objects.filter(site_id=site, day=day).values_list("day", "reason"),
        site=int,
        day=date,
    )
    assert on.rows(site=site.pk, day=date(2030, 12, 24)) == [(date(2030, 12, 24), "Christmas Eve")]
    assert on.rows(site=site.pk, day=date(2030, 12, 25)) == []
    with pytest.raises(TypeError):  # a datetime is not a day
        on.rows(site=site.pk, day=datetime(2030, 12, 24))
    noon = datetime(2030, 12, 24, 12, tzinfo=site.tz)
    assert closed_days(site, [(noon, noon.replace(hour=13))]) == {date(2030, 12, 24): "Christmas Eve"}
