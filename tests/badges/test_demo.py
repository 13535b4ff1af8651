"""badges.demo, run by `manage.py demo_site`: the main entrance and its reader cph-main, badges, a visitor today."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from badges import demo, selectors
from badges.models import Badge, Reader, Visit
from labs.choices import Role
from labs.models import Person, Site

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    out = StringIO()
    call_command("demo_site", stdout=out)
    return out.getvalue()


def printed_key(output: str) -> str:
    return re.search(r"Reader cph-main API key: (\S+)", output).group(1)


def check(key: str, credential_type: str, value: str):
    client = APIClient()
    client.credentials(HTTP_X_READER_KEY=key)
    return client.post(
        "/api/v1/access/check/",
        {"reader": "cph-main", "credential": {"type": credential_type, "value": value}},
        format="json",
    )


def decision(key: str, credential_type: str, value: str) -> tuple[bool, str]:
    response = check(key, credential_type, value)
    assert response.status_code == 200, response.content
    return response.json()["allow"], response.json()["reason"]


def current_code(person: Person) -> str:
    return selectors.badge_current_code(badge=selectors.badge_for_person(person=person))


def badge_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("  badges:", "  Reader ", "  Visitor "))]


def test_it_is_idempotent_and_prints_the_same(monkeypatch):
    monkeypatch.delenv("DEMO_READER_KEY", raising=False)
    first = badge_lines(run_demo())
    assert len(first) == 3
    counts = (Badge.objects.count(), Visit.objects.count(), Reader.objects.count())
    assert badge_lines(run_demo()) == first
    assert (Badge.objects.count(), Visit.objects.count(), Reader.objects.count()) == counts


def test_the_printed_key_opens_cph_main_for_every_role_with_a_valid_badge(monkeypatch):
    monkeypatch.delenv("DEMO_READER_KEY", raising=False)
    key = printed_key(run_demo())
    for role in Role.values:
        person = Person.objects.filter(site__slug="cph", role=role).order_by("pk").first()
        assert person is not None, role
        assert decision(key, "qr", current_code(person)) == (True, "ok"), role


def test_the_key_comes_from_demo_reader_key_when_set(monkeypatch):
    monkeypatch.setenv("DEMO_READER_KEY", "my-demo-reader-key-123")
    assert printed_key(run_demo()) == "my-demo-reader-key-123"
    member = Person.objects.get(user__username="member")
    assert decision("my-demo-reader-key-123", "qr", current_code(member)) == (True, "ok")
    monkeypatch.setenv("DEMO_READER_KEY", "another-key-456")
    run_demo()
    assert check("my-demo-reader-key-123", "card", demo.DEMO_CARD_UID).status_code == 401
    assert decision("another-key-456", "card", demo.DEMO_CARD_UID) == (True, "ok")


def test_a_visitor_hosted_by_member_arrives_today_and_is_let_in(monkeypatch):
    monkeypatch.delenv("DEMO_READER_KEY", raising=False)
    key = printed_key(run_demo())
    site = Site.objects.get(slug="cph")
    visit = Visit.objects.get(email=demo.DEMO_VISITOR["email"])
    assert visit.host.user.username == "member"
    assert visit.start.astimezone(site.tz).date() == timezone.now().astimezone(site.tz).date()
    assert decision(key, "qr", selectors.badge_current_code(badge=visit.badges.get())) == (True, "ok")
    visit.refresh_from_db()
    assert visit.checked_in_at is not None


def test_the_simulators_demo_round_presents_member_visitor_and_cards(monkeypatch):
    from badges.simulator import demo_scans

    monkeypatch.delenv("DEMO_READER_KEY", raising=False)
    key = printed_key(run_demo())
    scans = demo_scans("cph")
    assert [s.label for s in scans][:3] == ["member's phone", "member's phone, same code", "visitor Ole Gæst's phone"]
    results = [decision(key, scan.type, scan.value) for scan in scans]
    assert results == [(True, "ok"), (False, "replayed"), (True, "ok"), (True, "ok"), (False, "unknown")]


def test_the_demo_member_scanning_in_at_the_door_is_checked_in_and_their_desk_moves(
    django_capture_on_commit_callbacks,
):
    from bookings.choices import BookingStatus, CheckInVia
    from bookings.models import Booking
    from comfort.models import Device, Preference

    output = run_demo()
    member = Person.objects.get(user__username="member")
    desk_booking = Booking.objects.get(
        organiser=member,
        desk__isnull=False,
        start__lte=timezone.now() + (timezone.timedelta(minutes=15)),
        end__gt=timezone.now(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        allowed, _reason = decision(printed_key(output), "qr", current_code(member))

    assert allowed
    desk_booking.refresh_from_db()
    assert desk_booking.status == BookingStatus.CHECKED_IN
    assert desk_booking.checked_in_via == CheckInVia.BADGE
    frame = Device.objects.get(desk=desk_booking.desk, kind="desk")
    assert frame.desired == {"height_mm": Preference.objects.get(person=member).desk_sit_height_mm}
