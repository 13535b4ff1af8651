"""booking_create: the no-overlap rule, buffers, desks per person, booking on someone's behalf."""

from __future__ import annotations

import pytest

from bookings import services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from tests.bookings.conftest import local
from tests.bookings.factories import RoomFactory

pytestmark = pytest.mark.usefixtures("frozen")


def _book(person, resource, start, end, **kwargs):
    kind = "room" if resource.__class__.__name__ == "Room" else "desk"
    return services.booking_create(actor=person, **{kind: resource}, start=start, end=end, **kwargs)


def test_it_books_a_free_room(member, room):
    booking = _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11), title="Stand-up")

    assert booking.pk is not None
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.organiser == member and booking.company == member.company
    assert booking.hold_end == booking.end
    assert booking.source == BookingSource.API


def test_back_to_back_bookings_both_succeed(member, colleague, room):
    _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))
    _book(colleague, room, local(2026, 3, 2, 11), local(2026, 3, 2, 12))
    _book(colleague, room, local(2026, 3, 2, 9), local(2026, 3, 2, 10))

    assert Booking.objects.filter(room=room).count() == 3


def test_it_rejects_overlap_naming_the_conflicting_interval(member, colleague, room):
    _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))

    with pytest.raises(Conflict) as caught:
        _book(colleague, room, local(2026, 3, 2, 10, 30), local(2026, 3, 2, 11, 30))

    payload = caught.value.as_dict()
    assert payload["code"] == "conflict"
    assert "10:00-11:00" in payload["detail"]
    assert payload["conflicts"] == [
        {
            "booking_start": "2026-03-02T10:00:00+01:00",
            "booking_end": "2026-03-02T11:00:00+01:00",
            "held_until": "2026-03-02T11:00:00+01:00",
            "resource": "room",
        }
    ]
    assert Booking.objects.filter(room=room).count() == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [((9, 30), (10, 30)), ((10, 30), (11, 30)), ((10, 15), (10, 45)), ((9, 0), (12, 0)), ((10, 0), (11, 0))],
)
def test_every_kind_of_overlap_is_refused(member, colleague, room, start, end):
    _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))

    with pytest.raises(Conflict):
        _book(colleague, room, local(2026, 3, 2, *start), local(2026, 3, 2, *end))


def test_cancelled_and_released_bookings_do_not_hold_the_room(member, colleague, room):
    first = _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))
    services.booking_cancel(actor=member, booking=first)
    second = _book(colleague, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))
    Booking.objects.filter(pk=second.pk).update(status=BookingStatus.RELEASED)

    third = _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))

    assert third.status == BookingStatus.CONFIRMED


def test_a_rooms_buffer_keeps_it_held_after_each_booking(member, colleague, site, floor):
    room = RoomFactory(site=site, floor=floor, buffer_minutes=15)
    first = _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))
    assert first.hold_end == local(2026, 3, 2, 11, 15)

    with pytest.raises(Conflict) as caught:
        _book(colleague, room, local(2026, 3, 2, 11, 10), local(2026, 3, 2, 12))
    assert caught.value.extra["conflicts"][0]["held_until"] == "2026-03-02T11:15:00+01:00"
    with pytest.raises(Conflict):  # ending inside the next booking's turnaround is no better
        _book(colleague, room, local(2026, 3, 2, 9), local(2026, 3, 2, 9, 50))

    _book(colleague, room, local(2026, 3, 2, 11, 15), local(2026, 3, 2, 12))
    _book(colleague, room, local(2026, 3, 2, 8, 45), local(2026, 3, 2, 9, 45))


def test_two_people_may_not_book_one_desk_at_once(member, colleague, desk):
    _book(member, desk, local(2026, 3, 2, 9), local(2026, 3, 2, 17))

    with pytest.raises(Conflict):
        _book(colleague, desk, local(2026, 3, 2, 12), local(2026, 3, 2, 13))


def test_a_person_holds_one_desk_at_a_time(member, desk, other_desk):
    _book(member, desk, local(2026, 3, 2, 9), local(2026, 3, 2, 12))

    with pytest.raises(Conflict) as caught:
        _book(member, other_desk, local(2026, 3, 2, 11), local(2026, 3, 2, 14))
    assert caught.value.detail.startswith("You already hold a desk")

    _book(member, other_desk, local(2026, 3, 2, 12), local(2026, 3, 2, 14))


def test_a_desk_booking_has_no_attendees(member, desk):
    with pytest.raises(Invalid):
        _book(member, desk, local(2026, 3, 2, 9), local(2026, 3, 2, 12), attendees=["x@example.test"])


def test_it_refuses_a_booking_that_ends_before_it_starts(member, room):
    with pytest.raises(Invalid):
        _book(member, room, local(2026, 3, 2, 11), local(2026, 3, 2, 10))


def test_attendees_are_normalised_and_validated(member, room):
    booking = _book(
        member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11), attendees=[" A@Example.test", "a@example.test"]
    )
    assert booking.attendees == ["a@example.test"]

    with pytest.raises(Invalid):
        _book(member, room, local(2026, 3, 2, 12), local(2026, 3, 2, 13), attendees=["not-an-email"])


def test_staff_book_on_someones_behalf(staff, member, room):
    booking = services.booking_create(
        actor=staff, organiser=member, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
    )

    assert booking.organiser == member
    assert booking.created_by == staff
    assert booking.source == BookingSource.STAFF


def test_members_cannot_book_on_someone_elses_behalf(member, colleague, room):
    with pytest.raises(Forbidden):
        services.booking_create(
            actor=member, organiser=colleague, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
        )


def test_staff_cannot_book_for_a_person_of_another_site(staff, room):
    from tests.factories import PersonFactory, SiteFactory

    elsewhere = PersonFactory(site=SiteFactory(slug="aar"))
    with pytest.raises(NotFound):
        services.booking_create(
            actor=staff, organiser=elsewhere, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11)
        )


def test_an_inactive_room_is_not_bookable(member, room):
    room.is_active = False
    room.save()
    with pytest.raises(Invalid):
        _book(member, room, local(2026, 3, 2, 10), local(2026, 3, 2, 11))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (local(964, 3, 3, 9), local(964, 3, 3, 10)),  # a typo of 2026 that staff's override would let through
        (local(2040, 3, 3, 9), local(2040, 3, 3, 10)),
        (local(2024, 3, 3, 9), local(2024, 3, 3, 10)),
    ],
)
def test_even_staff_overriding_the_rules_book_within_a_plausible_window(staff, room, start, end):
    with pytest.raises(Invalid) as refused:
        _book(staff, room, start, end, override_reason="Board meeting")

    assert "start" in refused.value.extra
    assert not Booking.objects.exists()


def test_the_plausible_window_is_explained_in_the_request_language(member, room):
    from django.utils.translation import override

    with override("da"), pytest.raises(Invalid) as refused:
        _book(member, room, local(2020, 1, 6, 10), local(2020, 1, 6, 11))

    assert refused.value.detail == "En booking skal ligge mellem et år tilbage og ti år frem."
    assert refused.value.extra == {"start": ["Uden for det tidsrum, der kan bookes."]}


def test_staff_overriding_the_rules_book_years_ahead_within_the_window(staff, room):
    booking = _book(staff, room, local(2034, 3, 3, 9), local(2034, 3, 3, 10), override_reason="Anniversary")

    assert booking.pk is not None
