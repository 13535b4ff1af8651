"""Retention: one idempotent purge (labs.tasks.retention_purge) enforces each declaration's retention_days.
One time-travel test per category of data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.utils import timezone

from badges.models import AccessDecision, BadgeCodeUse, Visit
from bookings.models import Booking
from calendars.models import EventLink
from comfort import services as comfort_services
from comfort.models import Command
from labs import services, services_privacy, tasks
from labs.models import OutboxMessage, Person, PersonalDataAccess, SignInCounter
from tests.bookings.factories import BookingFactory, DeskFactory, RoomFactory
from tests.comfort.factories import DeviceFactory

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def purge_at(moment):
    with time_machine.travel(moment, tick=False):
        return tasks.retention_purge()


def test_the_task_is_idempotent(subject, world):
    later = timezone.now() + 100 * DAY
    first = purge_at(later)
    assert sum(first.values()) > 0
    assert sum(purge_at(later).values()) == 0


def test_booking_titles_and_attendees_go_30_days_after_the_end_and_bookings_after_13_months(subject, site):
    past = BookingFactory(
        room=RoomFactory(site=site),
        organiser=subject,
        title="Old Quillfeather sync",
        attendees=["a@example.test"],
        start=timezone.now() - 3 * DAY,
        status="completed",
    )
    purge_at(past.end + 29 * DAY)
    assert Booking.objects.get(pk=past.pk).title == "Old Quillfeather sync"
    purge_at(past.end + 31 * DAY)
    kept = Booking.objects.get(pk=past.pk)
    assert (kept.title, kept.attendees) == ("", [])
    purge_at(past.end + 394 * DAY)
    assert Booking.objects.filter(pk=past.pk).exists()
    purge_at(past.end + 396 * DAY)
    assert not Booking.objects.filter(pk=past.pk).exists()


def _decision_made(days_ago: int) -> AccessDecision:
    """The audit's triggers compare with the database's own clock, so the rows travel back instead of the purge
    travelling forward."""
    with time_machine.travel(timezone.now() - days_ago * DAY, tick=False):
        return AccessDecision.objects.create(
            channel="http", reader_ref="r", credential_type="qr", allow=False, reason="unknown"
        )


def test_access_decisions_are_kept_365_days():
    younger, older = _decision_made(364), _decision_made(367)
    tasks.retention_purge()
    assert AccessDecision.objects.filter(pk=younger.pk).exists()
    assert not AccessDecision.objects.filter(pk=older.pk).exists()


def test_badge_code_uses_are_kept_minutes(subject, world, site):
    from badges.models import Reader

    use = BadgeCodeUse.objects.create(badge=world["digital"], reader=Reader.objects.first(), step=1)
    purge_at(use.used_at + timedelta(minutes=5))
    assert BadgeCodeUse.objects.filter(pk=use.pk).exists()
    purge_at(use.used_at + timedelta(minutes=11))
    assert not BadgeCodeUse.objects.filter(pk=use.pk).exists()


def test_visits_go_30_days_after_they_ended(subject, world):
    visit = world["visit"]
    purge_at(visit.end + 29 * DAY)
    assert Visit.objects.filter(pk=visit.pk).exists()
    purge_at(visit.end + 31 * DAY)
    assert not Visit.objects.filter(pk=visit.pk).exists()


def test_sign_in_counters_go_a_day_after_their_window():
    with pytest.raises(Exception):  # noqa: B017 - a wrong password counts
        services.sign_in(username="ghost", password="x", ip="10.1.1.1")
    row = SignInCounter.objects.get(scope="ip")
    purge_at(row.window_start + timedelta(hours=12))
    assert SignInCounter.objects.filter(pk=row.pk).exists()
    purge_at(row.window_start + 2 * DAY)
    assert not SignInCounter.objects.filter(pk=row.pk).exists()


def test_expired_sessions_go(client, member):
    client.force_login(member.user)
    session = Session.objects.get()
    purge_at(session.expire_date - timedelta(minutes=1))
    assert Session.objects.filter(pk=session.pk).exists()
    purge_at(session.expire_date + timedelta(minutes=1))
    assert not Session.objects.filter(pk=session.pk).exists()


def test_sent_outbox_messages_go_a_day_after_sending():
    sent_at = timezone.now()
    message = OutboxMessage.objects.create(topic="t", payload={"height_mm": 700}, sent_at=sent_at)
    purge_at(sent_at + timedelta(hours=23))
    assert OutboxMessage.objects.filter(pk=message.pk).exists()
    purge_at(sent_at + timedelta(hours=25))
    assert not OutboxMessage.objects.filter(pk=message.pk).exists()


def test_comfort_history_goes_after_30_days(site, subject):
    desk = DeskFactory(site=site)
    device = DeviceFactory(desk=desk)
    old = comfort_services.device_desired_set(device=device, desired={"height_mm": 900}, reason={}, acts_for=subject)
    comfort_services.device_desired_set(device=device, desired={"height_mm": 700}, reason={}, acts_for=subject)
    Command.objects.filter(pk=old.pk).update(state="applied")
    purge_at(old.issued_at + 29 * DAY)
    assert Command.objects.filter(pk=old.pk).exists()
    purge_at(old.issued_at + 31 * DAY)
    assert not Command.objects.filter(pk=old.pk).exists()


def test_staff_access_log_goes_after_365_days(subject, staff):
    services_privacy.personal_data_access_log(actor=staff, subject=subject, door="api.people.detail")
    row = PersonalDataAccess.objects.get()
    purge_at(row.at + 364 * DAY)
    assert PersonalDataAccess.objects.filter(pk=row.pk).exists()
    purge_at(row.at + 366 * DAY)
    assert not PersonalDataAccess.objects.filter(pk=row.pk).exists()


def test_room_calendar_organisers_go_30_days_after_the_event(site):
    from calendars.models import Connection, RoomCalendar

    room = RoomFactory(site=site)
    connection = Connection.objects.create(site=site, provider="google", name="Tenant")
    calendar = RoomCalendar.objects.create(connection=connection, room=room, calendar_id="room@example.test")
    end = timezone.now()
    link = EventLink.objects.create(
        calendar=calendar, event_id="e1", origin="inbound", organiser_email="ext@partner.example", end=end
    )
    purge_at(end + 29 * DAY)
    assert EventLink.objects.get(pk=link.pk).organiser_email == "ext@partner.example"
    purge_at(end + 31 * DAY)
    assert EventLink.objects.get(pk=link.pk).organiser_email == ""


def test_a_membership_ended_more_than_30_days_ago_is_erased(subject):
    today = timezone.now().date()
    Person.objects.filter(pk=subject.pk).update(membership_ends_on=today)
    purge_at(timezone.now() + 29 * DAY)
    assert Person.objects.get(pk=subject.pk).erased_at is None
    purge_at(timezone.now() + 32 * DAY)
    erased = Person.objects.get(pk=subject.pk)
    assert erased.erased_at is not None and erased.user.username.startswith("erased-")
