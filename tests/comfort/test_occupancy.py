"""Occupancy is one rule: whichever door starts or ends a checked-in desk booking, the desk moves to the person's
height (or back to its default) and the zone is re-arbitrated, through one bookings event fired after commit.

Each test commits the way a real request would (``committed()`` runs the after-commit callbacks, including those
that callbacks register), then looks at the devices' desired state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from badges import services as badge_services
from badges.choices import Channel, CredentialType
from bookings import events
from bookings import services as booking_services
from bookings.choices import BookingStatus, CheckInVia
from bookings.models import Booking
from comfort import handlers
from comfort import services as comfort_services
from comfort.models import Command, ZoneDecision
from tests.badges import conftest as badge_fixtures
from tests.badges.factories import code_at
from tests.comfort.factories import PreferenceFactory

main_door, main_reader, member_badge = (
    badge_fixtures.main_door,
    badge_fixtures.main_reader,
    badge_fixtures.member_badge,
)

# Monday 2 March 2026 in Copenhagen (UTC+1).
MONDAY_9 = datetime.fromisoformat("2026-03-02T09:00:00+01:00")
DEFAULT_HEIGHT = 740


@pytest.fixture(autouse=True)
def _monday():
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def prefs(member):
    return PreferenceFactory(person=member, desk_sit_height_mm=1010, temperature_c=Decimal("21.0"), fan_speed_pct=60)


@pytest.fixture
def desk_booking(member, desk, devices, committed):
    """The member's desk booking for today, 09:00-17:00, not checked in yet."""
    with committed():
        return booking_services.booking_create(
            actor=member, desk=desk, start=MONDAY_9, end=MONDAY_9.replace(hour=17), now=MONDAY_9 - timedelta(days=1)
        )


def desired(device) -> dict:
    device.refresh_from_db()
    return device.desired


def assert_moved_for(member_booking, devices):
    assert desired(devices["desk"]) == {"height_mm": 1010}
    assert desired(devices["hvac"])["setpoint_c"] == 21.0
    assert desired(devices["fan"]) == {"on": True, "speed_pct": 60}
    command = Command.objects.get(device=devices["desk"], version=devices["desk"].desired_version)
    assert command.reason == {"type": "check_in", "id": member_booking.pk}


def assert_back_to_defaults(devices):
    assert desired(devices["desk"]) == {"height_mm": DEFAULT_HEIGHT}
    assert desired(devices["hvac"])["setpoint_c"] == 22.0  # the zone's policy
    assert desired(devices["fan"]) == {"on": False, "speed_pct": 0}


# --- the doors that start occupancy --------------------------------------------------------------------------------


def test_a_check_in_through_the_bookings_api_moves_the_desk(member, desk_booking, devices, prefs, committed):
    client = Client()
    client.force_login(member.user)
    with committed():
        response = client.post(f"/api/v1/bookings/{desk_booking.pk}/check-in/")

    assert response.status_code == 200
    assert_moved_for(desk_booking, devices)
    desk_booking.refresh_from_db()
    assert desk_booking.checked_in_via == CheckInVia.BOOKING


def test_a_check_in_from_my_bookings_in_the_portal_moves_the_desk(member, desk_booking, devices, prefs, committed):
    client = Client()
    client.force_login(member.user)
    with committed():
        response = client.post(f"/bookings/{desk_booking.pk}/check-in/")

    assert response.status_code == 302
    assert_moved_for(desk_booking, devices)


def test_a_badge_scan_at_the_door_checks_in_and_moves_the_desk(
    member, desk_booking, devices, prefs, main_reader, member_badge, committed
):
    with committed():
        decision = badge_services.access_decide(
            reader=main_reader,
            reader_ref=main_reader.slug,
            credential_type=CredentialType.QR,
            value=code_at(member_badge, MONDAY_9),
            channel=Channel.MQTT,
        )

    assert decision.allow
    assert_moved_for(desk_booking, devices)
    desk_booking.refresh_from_db()
    assert desk_booking.checked_in_via == CheckInVia.BADGE


def test_presence_sensed_at_the_desk_checks_in_and_moves_it(member, desk_booking, devices, prefs, committed):
    topic = devices["desk"].topic("reported")
    with committed():
        handlers.handle_reported(topic, {"v_applied": 0, "height_mm": 740, "occupied": True})

    assert_moved_for(desk_booking, devices)
    desk_booking.refresh_from_db()
    assert desk_booking.checked_in_via == CheckInVia.DESK_PRESENCE


def test_an_old_retained_presence_report_checks_no_one_in(member, desk_booking, devices, prefs, committed):
    stale = (timezone.now() - timedelta(hours=3)).isoformat()
    with committed():
        handlers.handle_reported(devices["desk"].topic("reported"), {"v_applied": 0, "occupied": True, "ts": stale})

    desk_booking.refresh_from_db()
    assert desk_booking.status == BookingStatus.CONFIRMED


def test_presence_at_a_desk_without_a_due_booking_books_nobody(member, desk, devices, committed):
    with committed():
        handlers.handle_reported(devices["desk"].topic("reported"), {"v_applied": 0, "occupied": True})

    assert not Booking.objects.exists()
    assert desired(devices["desk"]) == {}


def test_the_comfort_check_in_endpoint_answers_the_commands_it_caused(member, desk, devices, prefs, committed):
    client = Client()
    client.force_login(member.user)
    with committed():
        client.post(f"/api/v1/desks/{desk.pk}/check-in/")

    booking = Booking.objects.get(organiser=member)
    assert_moved_for(booking, devices)


# --- the doors that end it ----------------------------------------------------------------------------------------


@pytest.fixture
def checked_in(member, desk_booking, devices, prefs, committed):
    with committed():
        booking_services.booking_check_in(actor=member, booking=desk_booking, at=MONDAY_9)
    assert desired(devices["desk"]) == {"height_mm": 1010}
    return desk_booking


def test_checking_out_returns_the_desk_and_zone_to_their_defaults(member, desk, checked_in, devices, committed):
    with committed():
        booking_services.desk_check_out(person=member, desk=desk, at=MONDAY_9 + timedelta(hours=2))

    assert_back_to_defaults(devices)


def test_cancelling_a_checked_in_booking_returns_the_desk(member, checked_in, devices, committed, _monday):
    _monday.move_to(MONDAY_9 + timedelta(hours=1))
    client = Client()
    client.force_login(member.user)
    with committed():
        response = client.delete(f"/api/v1/bookings/{checked_in.pk}/")

    assert response.status_code == 204
    assert_back_to_defaults(devices)


def test_the_end_of_a_checked_in_booking_returns_the_desk(checked_in, devices, committed):
    with committed():
        completed = booking_services.bookings_complete_ended(now=MONDAY_9.replace(hour=17, minute=1))

    assert completed == [checked_in.pk]
    checked_in.refresh_from_db()
    assert checked_in.status == BookingStatus.COMPLETED
    assert_back_to_defaults(devices)


def test_ending_bookings_twice_completes_each_once(checked_in, devices, committed):
    later = MONDAY_9.replace(hour=17, minute=1)
    with committed():
        booking_services.bookings_complete_ended(now=later)
    versions = desired_versions(devices)
    with committed():
        assert booking_services.bookings_complete_ended(now=later) == []

    assert desired_versions(devices) == versions


def test_the_release_of_a_no_show_leaves_the_desk_at_its_default(member, desk_booking, devices, committed):
    with committed():
        released = booking_services.bookings_release_no_shows(now=MONDAY_9 + timedelta(minutes=30))

    assert released == [desk_booking.pk]
    assert_back_to_defaults(devices)


def test_someone_else_checked_in_in_the_zone_keeps_the_zone_on_their_preferences(
    member, colleague, checked_in, desk, other_desk, devices, committed
):
    PreferenceFactory(person=colleague, desk_sit_height_mm=700, temperature_c=Decimal("24.0"), fan_speed_pct=20)
    with committed():
        booking_services.desk_check_in(person=colleague, desk=other_desk, at=MONDAY_9 + timedelta(minutes=5))
        booking_services.desk_check_out(person=member, desk=desk, at=MONDAY_9 + timedelta(hours=1))

    assert desired(devices["desk"]) == {"height_mm": DEFAULT_HEIGHT}
    assert desired(devices["hvac"])["setpoint_c"] == 24.0
    assert desired(devices["fan"]) == {"on": True, "speed_pct": 20}


# --- one event, after commit, robust --------------------------------------------------------------------------------


def test_the_event_fires_only_after_commit(member, desk_booking, devices, prefs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking_services.booking_check_in(actor=member, booking=desk_booking, at=MONDAY_9)
        assert desired(devices["desk"]) == {}  # nothing moved inside the transaction

    assert callbacks  # every app's handler (comfort's, calendars') waits for the commit
    for callback in callbacks:
        callback()
    assert desired(devices["desk"]) != {}


def test_a_rolled_back_check_in_moves_nothing(member, desk_booking, devices, prefs, committed):
    from django.db import transaction

    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        booking_services.booking_check_in(actor=member, booking=desk_booking, at=MONDAY_9)
        raise RuntimeError("the request failed after the service")

    assert desired(devices["desk"]) == {}


def test_a_failing_comfort_handler_never_undoes_the_check_in(member, desk_booking, devices, monkeypatch, committed):
    def broken(event):
        raise RuntimeError("comfort is down")

    monkeypatch.setattr(events, "_handlers", [broken])
    with committed():
        booking_services.booking_check_in(actor=member, booking=desk_booking, at=MONDAY_9)

    desk_booking.refresh_from_db()
    assert desk_booking.status == BookingStatus.CHECKED_IN


def test_the_reconcile_repairs_a_desk_whose_event_was_lost(member, desk_booking, devices, prefs, monkeypatch):
    monkeypatch.setattr(events, "_handlers", [])  # the process died between commit and handler
    booking_services.booking_check_in(actor=member, booking=desk_booking, at=MONDAY_9)
    assert desired(devices["desk"]) == {}

    outcome = comfort_services.workspace_reconcile(at=MONDAY_9 + timedelta(minutes=1))

    assert outcome["desks"] == 1
    assert desired(devices["desk"]) == {"height_mm": 1010}
    assert desired(devices["hvac"])["setpoint_c"] == 21.0


def test_the_reconcile_returns_a_desk_whose_end_event_was_lost(member, checked_in, devices, monkeypatch):
    monkeypatch.setattr(events, "_handlers", [])
    booking_services.bookings_complete_ended(now=MONDAY_9.replace(hour=17, minute=1))

    comfort_services.workspace_reconcile(at=MONDAY_9.replace(hour=17, minute=2))

    assert_back_to_defaults(devices)


def test_a_reconcile_with_nothing_out_of_step_writes_nothing(checked_in, devices):
    comfort_services.workspace_reconcile(at=MONDAY_9 + timedelta(minutes=1))
    versions, decisions = desired_versions(devices), ZoneDecision.objects.count()

    outcome = comfort_services.workspace_reconcile(at=MONDAY_9 + timedelta(minutes=2))

    assert outcome == {"desks": 0, "zones": 0}
    assert desired_versions(devices) == versions
    assert ZoneDecision.objects.count() == decisions


def desired_versions(devices) -> dict:
    return {kind: (d.refresh_from_db(), d.desired_version)[1] for kind, d in devices.items()}
