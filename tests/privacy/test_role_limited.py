"""Role-limited collection: a visitor's record holds name, email and what the host gave; calendar data and office
preferences of a visitor only for a stay of VISITOR_EXTENDED_DATA_MIN_DAYS or more; the mentor notice wherever a
member shares with a mentor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from badges.models import Visit
from labs import privacy
from labs.choices import Role
from labs.permissions import role_allows
from tests.bookings.factories import RoomFactory
from tests.conftest import _client_for
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def _visitor(site, days: int | None):
    person = PersonFactory(role=Role.VISITOR, company=None, site=site)
    if days is not None:
        person.membership_ends_on = person.created_at.date() + timedelta(days=days)
        person.save()
    return person


def test_a_visit_record_holds_only_name_email_and_what_the_host_gave():
    declared = {name for name, d in privacy.declarations_for(Visit).items() if d.category == "visitor_identity"}
    assert declared == {"name", "email"}
    personal = {f.name for f in Visit._meta.concrete_fields if privacy.looks_personal(f)}
    assert personal <= {"name", "email", "purpose"}


def test_the_visits_api_keeps_no_more_than_that(member_client, site):
    start = timezone.now() + timedelta(hours=1)
    body = {
        "name": "Vera",
        "email": "vera@guest.example",
        "site": site.slug,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "phone": "+45 1111 2222",
    }
    response = member_client.post("/api/v1/visits/", body, format="json")
    assert response.status_code == 201  # the extra field is not kept anywhere
    assert Visit.objects.get().name == "Vera"
    assert "+45 1111 2222" not in str(list(Visit.objects.values()))


@pytest.mark.parametrize(("days", "allowed"), [(None, False), (1, False), (4, False), (5, True), (30, True)])
def test_visitors_preferences_only_past_the_configured_stay(site, days, allowed):
    visitor = _visitor(site, days)
    assert role_allows(visitor, "office_preferences") is allowed
    response = _client_for(visitor).put(
        "/api/v1/me/preferences/",
        {"desk_sit_height_mm": 700, "desk_stand_height_mm": 1100, "temperature_c": 22.0, "fan_speed_pct": 40},
        format="json",
    )
    assert response.status_code == (200 if allowed else 403), response.content
    if not allowed:
        assert response.json()["code"] == "role_limited"


def test_the_stay_is_a_setting(site, settings):
    visitor = _visitor(site, 2)
    assert not role_allows(visitor, "calendar")
    settings.VISITOR_EXTENDED_DATA_MIN_DAYS = 2
    assert role_allows(visitor, "calendar")


def test_employees_and_mentors_are_not_limited(member, mentor):
    assert role_allows(member, "calendar") and role_allows(mentor, "office_preferences")


def _next_weekday_9utc(days: int) -> datetime:
    day = (timezone.now() + timedelta(days=days)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def _book(person, room, **extra):
    start = _next_weekday_9utc(3)
    body = {"room": room.pk, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), **extra}
    return _client_for(person).post(reverse("bookings-api:booking-list"), body, format="json")


def test_a_short_visit_books_without_a_title_or_attendees(site):
    room = RoomFactory(site=site)
    visitor = _visitor(site, 1)
    refused = _book(visitor, room, title="Pitch to Acme")
    assert refused.status_code == 403 and refused.json()["code"] == "role_limited"
    assert _book(visitor, room).status_code == 201


def test_sharing_a_meeting_with_a_mentor_shows_the_notice(member, mentor, colleague, site):
    room = RoomFactory(site=site)
    with_mentor = _book(member, room, title="Pitch review", attendees=[mentor.user.email.upper()])
    assert with_mentor.status_code == 201
    assert "not confidential" in with_mentor.json()["notices"][0]
    start = _next_weekday_9utc(3) + timedelta(hours=3)
    without = _client_for(member).post(
        reverse("bookings-api:booking-list"),
        {
            "room": room.pk,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "attendees": [colleague.user.email],
        },
        format="json",
    )
    assert "notices" not in without.json()


def test_a_short_visit_cannot_add_a_title_later(site):
    room = RoomFactory(site=site)
    visitor = _visitor(site, 1)
    booking = _book(visitor, room).json()
    url = reverse("bookings-api:booking-detail", args=[booking["id"]])
    response = _client_for(visitor).patch(url, {"title": "Pitch to Acme"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "role_limited"


def test_a_short_visit_connects_no_personal_calendar(site):
    from calendars import personal
    from calendars.models import PersonalCalendar
    from calendars.providers.personal import Grant
    from labs.errors import Forbidden

    grant = Grant(account="guest@guest.example", refresh_token="r", scopes="calendar")  # noqa: S106 - a fake
    with pytest.raises(Forbidden):
        personal.personal_calendar_connect(person=_visitor(site, 1), provider="google", grant=grant)
    assert not PersonalCalendar.objects.exists()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "A calendar connection is kept only for visitors staying at least 30 days."),
        ("da", "En kalenderforbindelse gemmes kun for besøgende, der bliver mindst 30 dage."),
    ],
)
def test_the_refusal_is_said_in_the_persons_language(site, settings, language, said):
    """The portal shows it on the person's page ("Your calendar was not connected: ..."), in their language."""
    from django.utils import translation

    from calendars import personal
    from calendars.providers.personal import Grant
    from labs.errors import Forbidden

    settings.VISITOR_EXTENDED_DATA_MIN_DAYS = 30
    grant = Grant(account="guest@guest.example", refresh_token="r", scopes="calendar")  # noqa: S106 - a fake
    with translation.override(language), pytest.raises(Forbidden) as refused:
        personal.personal_calendar_connect(person=_visitor(site, 1), provider="google", grant=grant)
    assert refused.value.detail == said
    assert refused.value.code == "role_limited"
