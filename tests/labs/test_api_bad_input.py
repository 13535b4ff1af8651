"""Bad input anywhere in the public API is a 4xx with a JSON code, never a 500."""

from datetime import UTC, datetime

import pytest

from labs.models import Site

_NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
_LATER = datetime(2026, 3, 2, 10, tzinfo=UTC)

pytestmark = pytest.mark.django_db

JUNK = ["abc", "", "-1", "1.5", "2026-13-45", "99999999999999999999", "'; DROP TABLE x; --", "\x00", "[]"]

GET_PATHS = [
    "/api/v1/rooms/?capacity_min={v}&site={v}&amenity={v}&floor={v}",
    "/api/v1/rooms/?free_from={v}&free_to={v}",
    "/api/v1/rooms/{v}/availability/?date={v}",
    "/api/v1/desks/?site={v}&free_from={v}&free_to=2026-01-01T10:00:00Z",
    "/api/v1/bookings/?start={v}&end={v}&room={v}&desk={v}",
    "/api/v1/bookings/{v}/",
    "/api/v1/devices/?kind={v}&site={v}",
    "/api/v1/devices/{v}/",
    "/api/v1/commands/{v}/",
    "/api/v1/sites/{v}/",
]

POST_BODIES = [
    ("/api/v1/bookings/", {"room": "{v}", "start": "{v}", "end": "{v}", "title": "x"}),
    ("/api/v1/visits/", {"name": "{v}", "email": "{v}", "site": "{v}", "start": "{v}", "end": "{v}"}),
    ("/api/v1/badges/", {"person": "{v}", "kind": "{v}", "card_uid": "{v}"}),
    ("/api/v1/auth/token/", {"username": "{v}", "password": "{v}"}),
]


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize("template", GET_PATHS)
def test_junk_in_queries_and_ids_is_never_a_500(staff_client, template, value):
    from urllib.parse import quote

    response = staff_client.get(template.format(v=quote(value, safe="")))
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert "code" in response.json()


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize("path,body", POST_BODIES)
def test_junk_in_bodies_is_a_json_4xx(staff_client, path, body, value):
    payload = {key: template.format(v=value) for key, template in body.items()}
    response = staff_client.post(path, payload, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert "code" in response.json()


# --- the named cases of "no 500 for any input" ------------------------------------------------------------------

OFFSETS_BEYOND_POSTGRES = ["+16:00", "-16:00", "-17:03", "+23:59"]


@pytest.mark.parametrize("offset", OFFSETS_BEYOND_POSTGRES)
@pytest.mark.parametrize(
    "template",
    [
        "/api/v1/bookings/?start=2026-03-02T09:00:00{o}",
        "/api/v1/bookings/?end=2026-03-02T09:00:00{o}",
        "/api/v1/rooms/?free_from=2026-03-02T09:00:00{o}&free_to=2026-03-02T10:00:00%2B01:00",
        "/api/v1/desks/?free_from=2026-03-02T09:00:00%2B01:00&free_to=2026-03-02T10:00:00{o}",
        "/api/v1/visits/?start=2026-03-02T09:00:00{o}",
    ],
)
def test_an_offset_beyond_15_59_in_a_list_filter_is_a_400(staff_client, template, offset):
    from urllib.parse import quote

    response = staff_client.get(template.format(o=quote(offset, safe=":")))
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("offset", ["+15:59", "-15:59", "Z"])
def test_an_offset_up_to_15_59_is_fine(staff_client, offset):
    from urllib.parse import quote

    response = staff_client.get(f"/api/v1/bookings/?start={quote('2026-03-02T09:00:00' + offset, safe=':')}")
    assert response.status_code == 200, response.content[:300]


EDGE_DATETIMES = ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-15:00", "9999-12-31T23:00Z"]


@pytest.mark.parametrize("value", EDGE_DATETIMES)
def test_datetimes_at_the_ends_of_the_calendar_are_a_400_in_filters_and_bodies(staff_client, room, value):
    from urllib.parse import quote

    later = "9999-12-31T23:59:59Z"
    for url in [
        f"/api/v1/rooms/?free_from={quote(value)}&free_to={quote(later)}",
        f"/api/v1/desks/?free_from={quote(value)}&free_to={quote(later)}",
        f"/api/v1/bookings/?start={quote(value)}",
        f"/api/v1/visits/?end={quote(value)}",
    ]:
        response = staff_client.get(url)
        assert response.status_code == 400, (url, response.content[:300])
        assert response.json()["code"] == "invalid"
    for path, body in [
        ("/api/v1/bookings/", {"room": room.pk, "start": value, "end": later}),
        ("/api/v1/visits/", {"name": "Ada", "email": "ada@example.com", "site": "cph", "start": value, "end": later}),
        ("/api/v1/badges/", {"person": 1, "kind": "digital", "valid_until": value}),
    ]:
        response = staff_client.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content[:300])
        assert response.json()["code"] == "invalid"


@pytest.fixture
def room(site):
    from tests.bookings.factories import RoomFactory

    return RoomFactory(site=site, name="Fjord")


@pytest.fixture
def desk(site):
    from tests.comfort.factories import DeskFactory, ZoneFactory
    from tests.factories import FloorFactory

    return DeskFactory(zone=ZoneFactory(floor=FloorFactory(site=site, level=1)), label="N1")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01"])
def test_availability_at_the_ends_of_the_calendar_is_a_400(member_client, room, desk, day):
    for url in [
        f"/api/v1/rooms/{room.pk}/availability/?date={day}",
        f"/api/v1/desks/{desk.pk}/availability/?date={day}",
    ]:
        response = member_client.get(url)
        assert response.status_code == 400, (url, response.content[:300])
        assert response.json()["code"] == "invalid"


def test_availability_on_an_ordinary_day_still_answers(member_client, room):
    response = member_client.get(f"/api/v1/rooms/{room.pk}/availability/?date=2026-03-02")
    assert response.status_code == 200
    assert response.json()["date"] == "2026-03-02"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_portal_day_pages_never_500_at_the_ends_of_the_calendar(member, room, day):
    from django.test import Client

    web = Client()
    web.force_login(member.user)
    day_page = web.get(f"/rooms/{room.pk}/?date={day}")
    assert day_page.status_code == 200  # an unusable day shows today
    assert day not in day_page.content.decode()
    for url in [f"/rooms/?date={day}&start=09:00&end=10:00", f"/desks/?date={day}&start=09:00&end=10:00"]:
        response = web.get(url)
        assert response.status_code == 400, (url, response.status_code)
    booked = web.post("/book/", {"room": room.pk, "start": f"{day} 09:00", "end": f"{day} 10:00"})
    assert booked.status_code == 302  # back to the form with a message, nothing booked
    assert not room.bookings.exists()


@pytest.mark.parametrize("depth", [33, 1_000, 10_000, 100_000])
@pytest.mark.parametrize("opening,closing", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json_is_a_400(staff_client, depth, opening, closing):
    body = opening * depth + "1" + closing * depth
    for path in ["/api/v1/bookings/", "/api/v1/visits/", "/api/v1/auth/token/", "/api/v1/access/check/"]:
        response = staff_client.generic("POST", path, body, content_type="application/json", HTTP_X_READER_KEY="k")
        assert response.status_code == 400, (path, response.content[:300])
        assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "charset,body",
    [
        ("utf-16", '{"job_title": "x"}'.encode("utf-16-le")),  # no byte-order mark to tell the order by
        ("utf-32", b'{"job_title": "x"}'),
        ("utf-8", b'{"job_title": "\xff"}'),
        ("rot13", b'{"wbo_gvgyr": "k"}'),  # Python's codecs also transform: none of those run on a body
        ("base64", b"eyJqb2JfdGl0bGUiOiAieCJ9C"),
        ("zlib", b"x\x9c\xab\xae\x05\x00\x01u\x00\xf9"),
        ("hex", b"7b7d"),
    ],
)
def test_a_body_in_a_charset_that_is_not_unicode_or_does_not_decode_is_a_400(member_client, charset, body):
    for path in ["/api/v1/me/", "/api/v1/bookings/", "/api/v1/auth/token/", "/api/v1/access/check/"]:
        method = "PATCH" if path == "/api/v1/me/" else "POST"
        response = member_client.generic(
            method, path, body, content_type=f"application/json; charset={charset}", HTTP_X_READER_KEY="k"
        )
        assert response.status_code == 400, (path, response.status_code, response.content[:300])
        assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "utf-16", "utf-32-be"])
def test_json_in_any_unicode_encoding_is_read(member_client, charset):
    body = '{"job_title": "Ærø ☕"}'.encode(charset)
    response = member_client.generic("PATCH", "/api/v1/me/", body, content_type=f"application/json; charset={charset}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["job_title"] == "Ærø ☕"


def test_brackets_inside_strings_do_not_count_as_nesting(member_client):
    response = member_client.patch("/api/v1/me/", {"job_title": "[" * 50 + "]" * 50}, format="json")
    assert response.status_code == 200
    assert response.json()["job_title"] == "[" * 50 + "]" * 50


CONTROL = [
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "escape\x1b[31m",
    "c1\x85control",
    "sep\u2028arator",
    "p\u2029q",
]


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_in_names_are_a_400_at_every_api_door(staff_client, member_client, room, value):
    from datetime import timedelta

    from django.utils import timezone

    soon = timezone.now() + timedelta(days=1)
    cases = [
        (member_client, "patch", "/api/v1/me/", {"first_name": value}),
        (member_client, "patch", "/api/v1/me/", {"job_title": value}),
        (
            member_client,
            "post",
            "/api/v1/visits/",
            {
                "name": value,
                "email": "ada@example.com",
                "site": "cph",
                "start": soon.isoformat(),
                "end": soon.isoformat(),
            },
        ),
        (
            member_client,
            "post",
            "/api/v1/visits/",
            {"name": "Ada", "email": "ada@example.com", "purpose": value, "site": "cph", "start": soon.isoformat()},
        ),
        (
            member_client,
            "post",
            "/api/v1/bookings/",
            {"room": room.pk, "title": value, "start": soon.isoformat(), "end": soon.isoformat()},
        ),
    ]
    for client, method, path, body in cases:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 400, (path, body, response.content[:300])
        field = next(k for k in body if body[k] == value)
        assert field in response.json(), response.json()


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_are_refused_by_the_models_themselves(site, member, room, value):
    from django.core.exceptions import ValidationError

    from badges.models import Visit

    site.name = value
    with pytest.raises(ValidationError, match="control characters"):
        site.full_clean()
    room.name = value
    with pytest.raises(ValidationError, match="control characters"):
        room.full_clean()
    visit = Visit(host=member, site=site, name=value, email="ada@example.com")
    with pytest.raises(ValidationError) as raised:
        visit.full_clean(exclude=["start", "end"])
    assert "name" in raised.value.message_dict
    member.user.last_name = value
    with pytest.raises(ValidationError) as raised:
        member.full_clean()
    assert "last_name" in raised.value.message_dict


def test_ordinary_unicode_names_are_fine(member_client):
    response = member_client.patch("/api/v1/me/", {"first_name": "Zoë Ørsted-Łukasz 山田"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Zoë Ørsted-Łukasz 山田"


def test_a_visitor_name_saved_with_a_newline_before_the_rule_still_gets_the_host_emailed(site, member, settings):
    """An old row (or one written around the model) must not break the host's email every minute for a day."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from badges import services
    from badges.models import Visit

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    visit = Visit.objects.create(
        host=member,
        site=site,
        name="Mallory\nBcc: everyone@example.com",
        email="m@example.com",
        start=now,
        end=now + timedelta(hours=1),
    )
    Visit.objects.filter(pk=visit.pk).update(checked_in_at=now)
    Site.objects.filter(pk=site.pk).update(name="Copen\r\nhagen")

    assert services.visit_host_notify(visit_id=visit.pk) is True
    (message,) = mail.outbox
    assert message.subject == "Mallory Bcc: everyone@example.com has arrived"
    assert message.to == [member.user.email]
    assert "Bcc" not in message.message().get_all("Bcc", [])


def test_the_migration_makes_existing_rows_single_line(site, member):
    import importlib

    from django.apps import apps

    from badges.models import Visit

    Site.objects.filter(pk=site.pk).update(name="Copen\nhagen", address="Havnegade\u2028 12")
    type(member.user).objects.filter(pk=member.user.pk).update(first_name="Mary\t\tJane")
    visit = Visit.objects.create(
        host=member, site=site, name="Ada\r\nLovelace", email="a@example.com", start=_NOW, end=_LATER
    )

    importlib.import_module("labs.migrations.0004_single_line_names").make_existing_rows_single_line(apps, None)
    importlib.import_module("badges.migrations.0003_single_line_names").make_existing_rows_single_line(apps, None)

    site.refresh_from_db()
    member.user.refresh_from_db()
    visit.refresh_from_db()
    assert (site.name, site.address) == ("Copen hagen", "Havnegade 12")
    assert member.user.first_name == "Mary Jane"
    assert visit.name == "Ada Lovelace"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/bookings/?status=",
        "/api/v1/bookings/?status=nonsense",
        "/api/v1/bookings/?status=confirmed&status=",
        "/api/v1/badges/?status=",
        "/api/v1/badges/?kind=",
        "/api/v1/badges/?kind=paper",
        "/api/v1/devices/?kind=",
        "/api/v1/devices/?kind=toaster",
        "/api/v1/devices/?online=",
        "/api/v1/devices/?online=null",
        "/api/v1/devices/?online=yes",
        "/api/v1/commands/?state=",
        "/api/v1/commands/?state=lost",
        "/api/v1/bookings/?start=",
        "/api/v1/visits/?site=",
        "/api/v1/rooms/?amenity=",
        "/api/v1/rooms/?capacity_min=",
        "/api/v1/desks/?zone=",
    ],
)
def test_an_empty_or_unknown_filter_value_is_a_400(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "url", ["/api/v1/bookings/?status=confirmed", "/api/v1/devices/?online=true", "/api/v1/badges/?kind=card"]
)
def test_known_filter_values_still_filter(staff_client, url):
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/me/", {"job_title": 12}),
        ("/api/v1/me/preferences/", {"fan_speed_pct": "40"}),
        ("/api/v1/me/preferences/", {"temperature_c": "21.5"}),
        ("/api/v1/bookings/", {"room": "1", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}),
        ("/api/v1/bookings/", {"room": 1.0, "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}),
        ("/api/v1/bookings/", {"room": 1, "desk": 1, "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}),
    ],
)
def test_values_of_the_wrong_json_type_are_a_400(member_client, path, body):
    response = member_client.patch(path, body, format="json") if path.startswith("/api/v1/me") else None
    response = response or member_client.post(path, body, format="json")
    assert response.status_code == 400, response.content[:300]
