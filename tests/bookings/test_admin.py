"""The bookings admin: changelists with filters and search, and staff booking on someone's behalf via the service."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings import services
from bookings.models import Booking, BookingPolicy, BookingSeries, CalendarFeed, Desk, Room
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


def test_staff_book_on_behalf_in_the_admin(admin_client_staff, staff, member, room):
    response = admin_client_staff.post(
        _url(Booking, "add"),
        {
            "organiser": member.pk,
            "room": room.pk,
            "start_0": "2026-03-03",
            "start_1": "09:00:00",
            "end_0": "2026-03-03",
            "end_1": "10:00:00",
            "title": "On behalf",
            "attendees": "[]",
            "override_reason": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert booking.organiser == member and booking.created_by == staff and booking.source == "staff"


def test_the_admin_refuses_a_conflicting_booking(admin_client_staff, colleague, member, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    data = {
        "organiser": member.pk,
        "room": room.pk,
        "start_0": "2026-03-03",
        "start_1": "08:30:00",  # the admin shows and takes UTC: 09:30 in Copenhagen
        "end_0": "2026-03-03",
        "end_1": "09:30:00",
        "title": "",
        "attendees": "[]",
        "override_reason": "",
    }

    response = admin_client_staff.post(_url(Booking, "add"), data, follow=True)

    assert "Not booked" in response.content.decode()
    assert Booking.objects.count() == 1


def test_plain_users_cannot_open_the_admin(client, member):
    client.force_login(member.user)
    assert client.get(_url(Booking, "changelist")).status_code == 302
    assert get_user_model().objects.filter(is_staff=True).count() == 0
