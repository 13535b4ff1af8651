"""Behaviour 7 (privacy): synced events carry only what a booking needs; the calendar data is declared in the
privacy registry and covered by export and erasure."""

from __future__ import annotations

import pytest

from calendars import selectors, services
from calendars.models import EventLink
from labs import privacy
from tests.calendars.google_support import ALICE, BOB, ROOM, local, sync_now
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_calendar_data_is_declared_as_email_calendar_data():
    declared = {row["field"]: row for row in privacy.register_fields() if row["model"] == "calendars.EventLink"}
    assert {"event_id", "ical_uid", "organiser_email", "start", "end", "attendee_count"} <= declared.keys()
    assert {row["category"] for row in declared.values()} == {"calendar"}
    assert privacy.undeclared_personal_fields([EventLink]) == []


def test_synced_events_carry_only_what_a_booking_needs(linked, fake_google, fjord, alice, committed):
    fake_google.user_event_create(
        ALICE,
        summary="Review",
        start=local(2026, 3, 3, 10),
        end=local(2026, 3, 3, 11),
        rooms=(ROOM,),
        attendees=("x@elsewhere.test", "y@elsewhere.test"),
    )
    with committed():
        sync_now(linked)

    [link] = EventLink.objects.all()
    assert link.attendee_count == 2 and link.organiser_email == ""  # a person here: no address kept
    assert link.booking.attendees == []  # no attendee addresses read into the booking


def test_export_and_erasure_cover_an_external_organisers_events(linked, fake_google, fjord, committed):
    fake_google.user_event_create(
        BOB, summary="Vendor", start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), rooms=(ROOM,)
    )
    with committed():
        sync_now(linked)
    bob = PersonFactory(user__username="bob", user__email=BOB, site=fjord.site)  # joins later

    exported = selectors.person_calendar_data(bob)["events"]
    assert [(e["organiser_email"], e["calendar"]) for e in exported] == [(BOB, ROOM)]

    assert services.person_calendar_erase(person=bob) == 1
    assert selectors.person_calendar_data(bob)["events"] == []
