"""The booking rules, each checked in one service, with the clock frozen; staff may override with a reason."""

from __future__ import annotations

from datetime import time

import pytest

from bookings import services
from bookings.models import BookingPolicy
from labs.errors import Forbidden, RuleViolation
from tests.bookings.conftest import local
from tests.factories import PersonFactory

pytestmark = pytest.mark.usefixtures("frozen")


def _book(person, room, start, end, **kwargs):
    return services.booking_create(actor=person, room=room, start=start, end=end, **kwargs)


def _rule_of(call) -> str:
    with pytest.raises(RuleViolation) as caught:
        call()
    payload = caught.value.as_dict()
    assert payload["code"] == "rule_violation"
    return payload["rule"]


def test_a_booking_in_the_past_is_refused(member, room):
    assert _rule_of(lambda: _book(member, room, local(2026, 3, 2, 7), local(2026, 3, 2, 9))) == "in_past"


def test_bookable_hours_are_local_time(member, room):
    BookingPolicy.objects.create(site=room.site, opens_at=time(8), closes_at=time(18))

    assert _rule_of(lambda: _book(member, room, local(2026, 3, 3, 7, 30), local(2026, 3, 3, 9))) == "bookable_hours"
    assert _rule_of(lambda: _book(member, room, local(2026, 3, 3, 17), local(2026, 3, 3, 18, 30))) == "bookable_hours"
    assert _book(member, room, local(2026, 3, 3, 8), local(2026, 3, 3, 9)).pk
    assert _book(member, room, local(2026, 3, 3, 17), local(2026, 3, 3, 18)).pk


def test_bookable_hours_hold_in_local_time_across_the_spring_change(member, room):
    """After the clocks go forward (29 March 2026) 08:00 local is 06:00 UTC, and it is still bookable."""
    BookingPolicy.objects.create(site=room.site, opens_at=time(8), closes_at=time(18))

    booking = _book(member, room, local(2026, 3, 30, 8), local(2026, 3, 30, 9))

    assert booking.start.utcoffset() is not None
    assert booking.start.astimezone(local(2026, 3, 30).tzinfo).hour == 8
    assert _rule_of(lambda: _book(member, room, local(2026, 3, 30, 7), local(2026, 3, 30, 8))) == "bookable_hours"


def test_a_room_overrides_the_site_hours(member, room):
    BookingPolicy.objects.create(site=room.site, opens_at=time(8), closes_at=time(18))
    room.opens_at, room.closes_at = time(6), time(22)
    room.save()

    assert _book(member, room, local(2026, 3, 3, 6), local(2026, 3, 3, 7)).pk
    assert _book(member, room, local(2026, 3, 3, 21), local(2026, 3, 3, 22)).pk


def test_minimum_and_maximum_duration(member, room):
    BookingPolicy.objects.create(site=room.site, min_duration_minutes=30, max_duration_minutes=120)

    assert _rule_of(lambda: _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 9, 15))) == "min_duration"
    assert _rule_of(lambda: _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 11, 30))) == "max_duration"
    assert _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 11)).pk


def test_how_far_ahead(member, room):
    BookingPolicy.objects.create(site=room.site, max_days_ahead=14)

    assert _rule_of(lambda: _book(member, room, local(2026, 3, 17, 9), local(2026, 3, 17, 10))) == "max_days_ahead"
    assert _book(member, room, local(2026, 3, 16, 7), local(2026, 3, 16, 8)).pk


def test_minimum_notice(member, room):
    room.min_notice_minutes = 60
    room.save()

    assert _rule_of(lambda: _book(member, room, local(2026, 3, 2, 8, 30), local(2026, 3, 2, 9, 30))) == "min_notice"
    assert _book(member, room, local(2026, 3, 2, 9), local(2026, 3, 2, 10)).pk


def test_attendees_above_capacity_are_refused(member, room):
    """The room seats 6: the organiser and five attendees fit, six attendees do not."""
    five = [f"guest{i}@example.test" for i in range(5)]
    assert _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 10), attendees=five).pk

    six = [*five, "guest5@example.test"]
    assert _rule_of(lambda: _book(member, room, local(2026, 3, 3, 10), local(2026, 3, 3, 11), attendees=six)) == (
        "capacity"
    )


def test_the_company_weekly_quota_counts_every_colleagues_room_hours(member, colleague, outsider, room):
    BookingPolicy.objects.create(site=room.site, company_weekly_room_hours=3)
    _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 11))  # Tuesday, 2 h
    _book(colleague, room, local(2026, 3, 4, 9), local(2026, 3, 4, 10))  # Wednesday, 1 h: 3 h used

    rule = _rule_of(lambda: _book(colleague, room, local(2026, 3, 5, 9), local(2026, 3, 5, 9, 30)))
    assert rule == "company_weekly_quota"
    assert _book(outsider, room, local(2026, 3, 5, 9), local(2026, 3, 5, 12)).pk  # another company's quota
    assert _book(member, room, local(2026, 3, 9, 9), local(2026, 3, 9, 12)).pk  # next local week


def test_cancelled_bookings_give_their_quota_back(member, room):
    BookingPolicy.objects.create(site=room.site, company_weekly_room_hours=2)
    first = _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 11))
    services.booking_cancel(actor=member, booking=first)

    assert _book(member, room, local(2026, 3, 4, 9), local(2026, 3, 4, 11)).pk


def test_the_quota_week_is_the_local_week_across_the_spring_change(member, room, frozen):
    """Sunday 29 March 2026 23:30 local is still the week of 23 March, although it is 21:30 UTC."""
    frozen.move_to(local(2026, 3, 23, 8))
    BookingPolicy.objects.create(site=room.site, company_weekly_room_hours=2, opens_at=time(0), closes_at=time(23, 59))
    _book(member, room, local(2026, 3, 23, 9), local(2026, 3, 23, 11))

    rule = _rule_of(lambda: _book(member, room, local(2026, 3, 29, 22, 30), local(2026, 3, 29, 23, 30)))

    assert rule == "company_weekly_quota"
    assert _book(member, room, local(2026, 3, 30, 0, 30), local(2026, 3, 30, 1, 30)).pk


def test_staff_override_the_rules_with_a_recorded_reason(staff, member, room):
    BookingPolicy.objects.create(site=room.site, max_duration_minutes=60)

    booking = services.booking_create(
        actor=staff,
        organiser=member,
        room=room,
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 12),
        override_reason="Board meeting agreed with the operator",
    )

    assert booking.override_reason == "Board meeting agreed with the operator"
    assert booking.created_by == staff


def test_an_override_never_skips_the_conflict_check(staff, member, room):
    from labs.errors import Conflict

    _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 10))
    with pytest.raises(Conflict):
        services.booking_create(
            actor=staff, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), override_reason="urgent"
        )


def test_members_cannot_override(member, room):
    with pytest.raises(Forbidden):
        _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 10), override_reason="please")


def test_rules_apply_when_re_timing(member, room):
    BookingPolicy.objects.create(site=room.site, max_duration_minutes=60)
    booking = _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 10))

    with pytest.raises(RuleViolation):
        services.booking_update(actor=member, booking=booking, end=local(2026, 3, 3, 11))


def test_people_of_no_company_have_no_quota(mentor, room):
    BookingPolicy.objects.create(site=room.site, company_weekly_room_hours=1)

    assert _book(mentor, room, local(2026, 3, 3, 9), local(2026, 3, 3, 12)).pk


# --- closure days (bookings.models.Closure) ---------------------------------------------------------------------------


def test_a_closure_day_refuses_rooms_and_desks_of_its_site_only(member, room, desk, site):
    from bookings.models import Closure
    from tests.bookings.factories import RoomFactory

    Closure.objects.create(site=site, day=local(2026, 3, 4).date(), reason="Works on the roof")
    elsewhere = RoomFactory()  # another site, open that day

    with pytest.raises(RuleViolation) as caught:
        _book(member, room, local(2026, 3, 4, 9), local(2026, 3, 4, 10))
    payload = caught.value.as_dict()
    assert payload["rule"] == "closed" and payload["days"] == ["2026-03-04"]
    assert "closed on Wednesday 4 March 2026 (Works on the roof)" in payload["detail"]
    desk_booking = lambda: services.booking_create(  # noqa: E731
        actor=member, desk=desk, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 17)
    )
    assert _rule_of(desk_booking) == "closed"
    assert _book(member, room, local(2026, 3, 3, 9), local(2026, 3, 3, 10)).pk  # the day before is open
    assert services.booking_create(
        actor=PersonFactory(site=elsewhere.site), room=elsewhere, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10)
    ).pk


def test_the_closure_is_the_sites_local_day(member, room, site):
    """A booking from 00:30 local (23:30 UTC the day before) lies on the closed local day."""
    from bookings.models import Closure

    BookingPolicy.objects.create(site=site, opens_at=time(0), closes_at=time(23, 59))
    Closure.objects.create(site=site, day=local(2026, 3, 4).date())

    assert _rule_of(lambda: _book(member, room, local(2026, 3, 4, 0, 30), local(2026, 3, 4, 1))) == "closed"
    assert _book(member, room, local(2026, 3, 3, 22), local(2026, 3, 3, 23, 30)).pk


def test_a_series_over_a_closure_day_and_a_re_timing_onto_one_are_refused(member, room, site):
    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 17).date(), reason="Holiday")
    with pytest.raises(RuleViolation) as caught:
        services.booking_series_create(
            actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), rrule="FREQ=WEEKLY;COUNT=4"
        )
    assert caught.value.as_dict()["days"] == ["2026-03-17"]
    booking = _book(member, room, local(2026, 3, 16, 9), local(2026, 3, 16, 10))
    with pytest.raises(RuleViolation):
        services.booking_update(actor=member, booking=booking, start=local(2026, 3, 17, 9), end=local(2026, 3, 17, 10))


def test_a_series_skipping_conflicts_skips_its_closed_days_too_and_books_the_rest(member, room, site):
    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 17).date(), reason="Holiday")
    services.booking_create(actor=member, room=room, start=local(2026, 3, 24, 9), end=local(2026, 3, 24, 10))
    result = services.booking_series_create(
        actor=member,
        room=room,
        start=local(2026, 3, 10, 9),
        end=local(2026, 3, 10, 10),
        rrule="FREQ=WEEKLY;COUNT=4",
        skip_conflicts=True,
    )

    assert result.skipped == ["2026-03-17", "2026-03-24"]  # closed, and taken: both named, in date order
    assert [b.start for b in result.bookings] == [local(2026, 3, 10, 9), local(2026, 3, 31, 9)]
    Closure.objects.create(site=site, day=local(2026, 4, 7).date(), reason="Easter")
    with pytest.raises(RuleViolation) as caught:  # nothing left to book: the closure is the answer
        services.booking_series_create(
            actor=member,
            room=room,
            start=local(2026, 4, 7, 9),
            end=local(2026, 4, 7, 10),
            rrule="FREQ=DAILY;COUNT=1",
            skip_conflicts=True,
        )
    assert caught.value.as_dict()["days"] == ["2026-04-07"]


def test_a_walk_in_is_refused_on_a_closed_day_but_a_booking_staff_made_for_it_checks_in(staff, member, desk, site):
    from datetime import timedelta

    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 4).date())
    at = local(2026, 3, 4, 9, 5)
    assert _rule_of(lambda: services.desk_check_in(person=member, desk=desk, at=at)) == "closed"
    walk_in_the_day_before = services.desk_check_in(person=member, desk=desk, at=at - timedelta(days=1))
    assert walk_in_the_day_before.source == "walk_in"
    booked = services.booking_create(
        actor=staff,
        organiser=member,
        desk=desk,
        start=local(2026, 3, 4, 9),
        end=local(2026, 3, 4, 17),
        override_reason="Inventory day",
        now=local(2026, 3, 3, 12),
    )
    assert services.desk_check_in(person=member, desk=desk, at=at).pk == booked.pk


def test_staff_may_book_a_closed_day_with_a_recorded_reason(staff, member, room, site):
    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 4).date())
    booking = services.booking_create(
        actor=staff,
        organiser=member,
        room=room,
        start=local(2026, 3, 4, 9),
        end=local(2026, 3, 4, 10),
        override_reason="Contractors' briefing",
    )
    assert booking.override_reason == "Contractors' briefing"


def test_the_free_room_search_refuses_every_room_of_a_closed_site_with_one_closure_read(
    member, room, site, django_assert_max_num_queries
):
    from bookings.models import Closure, Room
    from tests.bookings.factories import RoomFactory

    for _ in range(5):
        RoomFactory(site=site, floor=room.floor)
    Closure.objects.create(site=site, day=local(2026, 3, 4).date())
    rooms = list(Room.objects.filter(site=site).select_related("site", "site__booking_policy"))
    with django_assert_max_num_queries(2):  # the closure days, once; the policy came with the rooms
        refused = services.booking_refusals(
            resources=rooms, organiser=member, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10)
        )
    assert {key: exc.as_dict()["rule"] for key, exc in refused.items()} == {("room", r.pk): "closed" for r in rooms}
    assert (
        services.booking_refusals(
            resources=rooms, organiser=member, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10)
        )
        == {}
    )


def test_closed_days_take_a_read_that_covers_the_days_and_query_for_any_other(site, django_assert_num_queries):
    from datetime import date

    from bookings.models import Closure
    from bookings.selectors import ClosuresRead
    from bookings.services.rules import closed_days

    Closure.objects.create(site=site, day=date(2026, 3, 5), reason="Works")
    read = ClosuresRead(first=date(2026, 3, 2), last=date(2026, 3, 4), days={date(2026, 3, 3): "From the read"})

    with django_assert_num_queries(0):
        assert closed_days(site, [(local(2026, 3, 3, 10), local(2026, 3, 3, 11))], read=read) == {
            date(2026, 3, 3): "From the read"
        }
        assert closed_days(site, [(local(2026, 3, 4, 10), local(2026, 3, 4, 11))], read=read) == {}
    with django_assert_num_queries(1):  # 5 March lies outside the read: the table answers
        assert closed_days(site, [(local(2026, 3, 4, 18), local(2026, 3, 5, 9))], read=read) == {
            date(2026, 3, 5): "Works"
        }
