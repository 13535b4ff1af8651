"""The bookings admin: changelists with filters and search; adding, re-timing and cancelling through the services,
refusals as form errors; times in the staff's site zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings import services
from bookings.models import Booking, BookingPolicy, BookingSeries, CalendarFeed, Desk, Room
from labs.admin_forms import NO_ACTOR
from tests.bookings.conftest import local
from tests.sign_in import signed_in

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def admin_client_staff(client, staff):
    staff.user.is_staff = True
    staff.user.is_superuser = True  # permissions are the demo's concern; here: the pages and the service
    staff.user.save()
    return signed_in(client, staff)


def _url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", [Room, Desk, Booking, BookingSeries, BookingPolicy, CalendarFeed])
def test_every_changelist_opens(admin_client_staff, model, room, desk):
    assert admin_client_staff.get(_url(model, "changelist")).status_code == 200


def test_the_booking_changelist_filters_and_searches(admin_client_staff, member, room):
    services.booking_create(
        actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), title="Retro"
    )

    response = admin_client_staff.get(_url(Booking, "changelist"), {"q": "Retro", "status__exact": "confirmed"})

    assert response.status_code == 200
    assert "Fjord" in response.content.decode()
    assert admin_client_staff.get(_url(Booking, "change", Booking.objects.get().pk)).status_code == 200


def _add_form(organiser, room, day: str, start: str, end: str, **extra) -> dict:
    return {
        "organiser": organiser.pk,
        "room": room.pk,
        "start_0": day,
        "start_1": start,
        "end_0": day,
        "end_1": end,
        "title": "",
        "attendees": "[]",
        "override_reason": "",
        **extra,
    }


def _change_form(booking, day: str, start: str, end: str, **extra) -> dict:
    return {
        "start_0": day,
        "start_1": start,
        "end_0": day,
        "end_1": end,
        "title": booking.title,
        "attendees": json.dumps(booking.attendees),
        "override_reason": booking.override_reason,
        **extra,
    }


def test_staff_book_on_behalf_in_the_admin(admin_client_staff, staff, member, room):
    response = admin_client_staff.post(
        _url(Booking, "add"), _add_form(member, room, "2026-03-03", "09:00:00", "10:00:00", title="On behalf")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert booking.organiser == member and booking.created_by == staff and booking.source == "staff"


def test_a_booking_entered_at_10_by_copenhagen_staff_is_stored_at_9_utc_in_winter(admin_client_staff, member, room):
    response = admin_client_staff.post(_url(Booking, "add"), _add_form(member, room, "2026-03-03", "10:00", "11:00"))

    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert booking.start == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert booking.end == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def test_the_admin_shows_booking_times_in_the_staffs_zone_and_names_it(admin_client_staff, member, room):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    changelist = admin_client_staff.get(_url(Booking, "changelist")).content.decode()
    form = admin_client_staff.get(_url(Booking, "change", booking.pk)).content.decode()

    assert "Start (Copenhagen time)" in changelist and "End (Copenhagen time)" in changelist
    assert "10 a.m." in changelist and "2026-03-03 10:00-11:00" in changelist and "09:00" not in changelist
    assert 'value="10:00:00"' in form and "local time: Copenhagen time." in form


def test_the_admin_refuses_a_conflicting_booking_on_the_form(admin_client_staff, colleague, member, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))

    response = admin_client_staff.post(_url(Booking, "add"), _add_form(member, room, "2026-03-03", "09:30", "10:30"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == ["It is already booked 2026-03-03 09:00-10:00 (Copenhagen time)."]
    assert Booking.objects.count() == 1


def test_a_booking_retimed_in_the_admin_goes_through_the_service(admin_client_staff, member, room):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))

    response = admin_client_staff.post(
        _url(Booking, "change", booking.pk), _change_form(booking, "2026-03-03", "14:00", "15:00")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (local(2026, 3, 3, 14), local(2026, 3, 3, 15))
    assert booking.sequence == 1  # the calendar feeds see the move


def test_a_booking_retimed_in_the_admin_into_a_conflict_shows_a_form_error_and_changes_nothing(
    admin_client_staff, colleague, member, room
):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 14), end=local(2026, 3, 3, 15))
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))

    response = admin_client_staff.post(
        _url(Booking, "change", booking.pk), _change_form(booking, "2026-03-03", "14:30", "15:30", title="Moved")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "It is already booked 2026-03-03 14:00-15:00 (Copenhagen time)."
    ]
    booking.refresh_from_db()
    assert (booking.start, booking.end, booking.title, booking.sequence) == (
        local(2026, 3, 3, 9),
        local(2026, 3, 3, 10),
        "",
        0,
    )


def test_a_rule_broken_in_the_admin_is_a_form_error(admin_client_staff, member, room):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))

    response = admin_client_staff.post(
        _url(Booking, "change", booking.pk), _change_form(booking, "2026-03-03", "09:00", "23:30")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    booking.refresh_from_db()
    assert booking.end == local(2026, 3, 3, 10)


def test_an_account_without_a_person_is_told_so_not_given_a_500(client, member, room):
    root = get_user_model().objects.create_superuser("root", "root@example.test", "a-long-root-password")
    signed_in(client, root, "a-long-root-password")

    response = client.post(_url(Booking, "add"), _add_form(member, room, "2026-03-03", "09:00", "10:00"))

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [NO_ACTOR]
    assert not Booking.objects.exists()


def test_bookings_are_cancelled_not_deleted_in_the_admin(admin_client_staff, member, room):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))

    assert admin_client_staff.get(_url(Booking, "delete", booking.pk)).status_code == 403
    response = admin_client_staff.post(
        _url(Booking, "changelist"), {"action": "cancel_bookings", "_selected_action": [booking.pk]}
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "cancelled"


def test_plain_users_cannot_open_the_admin(client, member):
    client.force_login(member.user)
    assert client.get(_url(Booking, "changelist")).status_code == 302
    assert get_user_model().objects.filter(is_staff=True).count() == 0
