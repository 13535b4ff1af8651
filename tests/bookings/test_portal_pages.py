"""The portal's bookings pages (portal/views_bookings.py): find and book rooms and desks, a room's day, my bookings."""

from __future__ import annotations

import pytest
from django.test import Client

from bookings import services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from tests.bookings.conftest import local
from tests.factories import ZoneFactory

pytestmark = pytest.mark.usefixtures("frozen")


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


@pytest.fixture
def member_web(member):
    return _client(member)


def test_pages_need_sign_in(client, db):
    for url in ["/rooms/", "/desks/", "/bookings/", "/rooms/1/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in/" in response["Location"]


def test_the_room_search_lists_free_rooms_in_local_time(member_web, member, colleague, room, site, floor):
    from tests.bookings.factories import RoomFactory

    RoomFactory(site=site, floor=floor, name="Attic", capacity=2, amenities=["screen"])
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    free = member_web.get("/rooms/", {"date": "2026-03-03", "start": "11:00", "end": "12:00"})
    busy = member_web.get("/rooms/", {"date": "2026-03-03", "start": "10:30", "end": "11:30", "capacity": 1})
    video = member_web.get("/rooms/", {"date": "2026-03-03", "start": "11:00", "end": "12:00", "amenities": "video"})

    assert free.status_code == 200
    assert [r.name for r in free.context["rooms"]] == ["Attic", "Fjord"]
    assert [r.name for r in busy.context["rooms"]] == ["Attic"]
    assert [r.name for r in video.context["rooms"]] == ["Fjord"]
    assert b'value="2026-03-03T11:00:00+01:00"' in free.content


def test_a_bad_search_is_a_400_with_the_form_errors(member_web, room):
    response = member_web.get("/rooms/", {"date": "2026-03-03", "start": "12:00", "end": "11:00"})
    assert response.status_code == 400
    assert b"The end must be after the start." in response.content


def test_booking_a_room_from_the_portal(member_web, member, room):
    response = member_web.post(
        "/book/",
        {"room": room.pk, "start": "2026-03-03T11:00:00+01:00", "end": "2026-03-03T12:00:00+01:00", "title": "Demo"},
    )

    booking = Booking.objects.get(organiser=member)
    assert response.status_code == 302 and response["Location"] == f"/bookings/?booked={booking.pk}"
    assert booking.source == BookingSource.PORTAL
    assert booking.start == local(2026, 3, 3, 11)
    page = member_web.get("/bookings/")
    assert b"Fjord" in page.content and b"Demo" in page.content


def test_a_conflict_in_the_portal_is_a_message_not_an_error(member_web, colleague, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 11), end=local(2026, 3, 3, 12))

    response = member_web.post(
        "/book/",
        {"room": room.pk, "start": "2026-03-03T11:00:00+01:00", "end": "2026-03-03T12:00:00+01:00"},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Not booked: It is already booked 2026-03-03 11:00-12:00" in response.content


def test_booking_a_desk_from_the_portal(member_web, member, desk):
    search = member_web.get("/desks/", {"date": "2026-03-03", "start": "09:00", "end": "17:00"})
    assert [d.label for d in search.context["desks"]] == ["N-01"]

    member_web.post(
        "/book/", {"desk": desk.pk, "start": "2026-03-03T09:00:00+01:00", "end": "2026-03-03T17:00:00+01:00"}
    )

    assert Booking.objects.get(organiser=member).desk == desk
    again = member_web.get("/desks/", {"date": "2026-03-03", "start": "09:00", "end": "17:00"})
    assert again.context["desks"] == []


def test_the_room_day_shows_busy_hours_without_names(member_web, colleague, room):
    services.booking_create(
        actor=colleague, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Confidential"
    )

    response = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-03"})

    assert response.status_code == 200
    assert b"10:00\xe2\x80\x9311:00" in response.content
    assert b"Confidential" not in response.content
    busy_hours = [h["start"].hour for h in response.context["hours"] if h["busy"]]
    assert busy_hours == [10]


def test_the_room_day_of_a_closed_day_refuses_every_hour_reading_the_closures_once(member_web, room):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bookings.models import Closure

    Closure.objects.create(site=room.site, day=local(2026, 3, 4).date(), reason="Holiday")

    with CaptureQueriesContext(connection) as queries:
        response = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-04"})

    hours = response.context["hours"]
    assert len(hours) > 5 and {h["refusal"].extra["rule"] for h in hours} == {"closed"}
    assert sum("bookings_closure" in q["sql"] for q in queries.captured_queries) == 1
    page = response.content.decode()
    assert page.count("Holiday") == 1 and 'id="closed-day"' in page  # the reason once, above the hours
    assert page.count(">Closed<") == len(hours)
    assert "Select a free hour" not in page  # no hour is free to select
    open_day = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-05"})
    assert not any(h["refusal"] for h in open_day.context["hours"])
    assert 'id="closed-day"' not in open_day.content.decode()
    assert "Select a free hour" in open_day.content.decode()


def test_my_bookings_check_in_and_cancel(member_web, member, room, frozen):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10))
    frozen.move_to(local(2026, 3, 2, 8, 50))

    page = member_web.get("/bookings/")
    assert page.context["rows"][0]["can_check_in"]
    member_web.post(f"/bookings/{booking.pk}/check-in/")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CHECKED_IN

    frozen.move_to(local(2026, 3, 2, 9, 20))
    member_web.post(f"/bookings/{booking.pk}/cancel/")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED  # a booking in progress ends now
    assert booking.end == local(2026, 3, 2, 9, 20)


def test_a_booking_in_progress_offers_to_end_now_not_to_cancel(member_web, member, room, frozen):
    """Checked in and started, "Cancel" would misname what happens: the booking ends now and stays as used."""
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10))
    later = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 11), end=local(2026, 3, 2, 12))
    frozen.move_to(local(2026, 3, 2, 8, 55))
    member_web.post(f"/bookings/{booking.pk}/check-in/")
    before_start = member_web.get("/bookings/").content.decode()
    assert "End now" not in before_start  # checked in early: it has not started, cancelling calls it off

    frozen.move_to(local(2026, 3, 2, 9, 30))
    rows = member_web.get("/bookings/").content.decode()
    row = rows[rows.index(f'data-booking="{booking.pk}"') : rows.index(f'data-booking="{later.pk}"')]
    assert ">End now</a>" in row and ">Cancel</a>" not in row
    assert ">Cancel</a>" in rows[rows.index(f'data-booking="{later.pk}"') :]
    confirm = member_web.get(f"/bookings/{booking.pk}/cancel/").content.decode()
    assert "End Fjord now?" in confirm and "Yes, end it now" in confirm
    member_web.cookies["django_language"] = "da"
    assert "Afslut Fjord nu?" in member_web.get(f"/bookings/{booking.pk}/cancel/").content.decode()
    member_web.cookies["django_language"] = "en-gb"

    done = member_web.post(f"/bookings/{booking.pk}/cancel/", follow=True).content.decode()
    assert "Booking ended: the room or desk is free now." in done
    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED and booking.end == local(2026, 3, 2, 9, 30)
    member_web.post(f"/bookings/{later.pk}/cancel/")
    later.refresh_from_db()
    assert later.status == BookingStatus.CANCELLED


def test_the_outsider_cannot_touch_a_members_booking_from_the_portal(outsider, member, room, frozen):
    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 2, 9), end=local(2026, 3, 2, 10))
    frozen.move_to(local(2026, 3, 2, 9))
    web = _client(outsider)

    assert web.post(f"/bookings/{booking.pk}/cancel/").status_code == 404
    assert web.post(f"/bookings/{booking.pk}/check-in/").status_code == 404
    assert b"Fjord" not in web.get("/bookings/").content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_the_navigation_lists_the_bookings_pages(member_web):
    labels = [item["label"] for item in member_web.get("/bookings/").context["nav_items"]]
    assert {"Rooms", "Desks", "My bookings"} <= set(labels)


# --- what a person sees: values in the date and time fields, defaults, times in the site's zone -------------------


def _field_values(html: str) -> dict[str, str]:
    """The value="..." of each named <input> of the search form."""
    import re

    values = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and name.group(1) in {"date", "start", "end"}:
            values.setdefault(name.group(1), value.group(1))
    return values


def test_the_room_search_proposes_the_next_half_hour_in_fields_a_browser_can_show(member_web, room):
    html = member_web.get("/rooms/").content.decode()  # Monday 2 March 2026, 08:00 in Copenhagen
    assert 'type="date"' in html and 'type="time"' in html
    assert _field_values(html) == {"date": "2026-03-02", "start": "08:30", "end": "09:30"}  # never 02/03/2026


def test_the_first_find_rooms_with_the_proposed_values_finds_rooms(member_web, room):
    proposed = _field_values(member_web.get("/rooms/").content.decode())
    response = member_web.get("/rooms/", proposed)
    assert response.status_code == 200 and b"This field is required" not in response.content
    assert [r.name for r in response.context["rooms"]] == ["Fjord"]
    assert "free Mon 2 Mar, 08:30–09:30" in response.content.decode()


def test_the_first_find_desks_with_the_proposed_values_finds_desks(member_web, desk):
    proposed = _field_values(member_web.get("/desks/").content.decode())
    assert proposed == {"date": "2026-03-02", "start": "08:30", "end": "17:00"}
    response = member_web.get("/desks/", proposed)
    assert response.status_code == 200 and [d.label for d in response.context["desks"]] == ["N-01"]


@pytest.mark.parametrize(
    ("now", "rooms", "desks"),
    [
        # late evening in Copenhagen (20:23 UTC): nothing fits today; tomorrow at opening (07:00)
        (local(2026, 3, 2, 21, 23), ("2026-03-03", "07:00", "08:00"), ("2026-03-03", "07:00", "17:00")),
        # an hour before closing (20:00): the room fits, the desk runs to closing
        (local(2026, 3, 2, 18, 40), ("2026-03-02", "19:00", "20:00"), ("2026-03-02", "19:00", "20:00")),
        # after midnight, before opening
        (local(2026, 3, 3, 0, 10), ("2026-03-03", "07:00", "08:00"), ("2026-03-03", "07:00", "17:00")),
    ],
)
def test_the_proposed_window_is_always_bookable(member_web, room, desk, frozen, now, rooms, desks):
    frozen.move_to(now)
    for path, expected in (("/rooms/", rooms), ("/desks/", desks)):
        proposed = _field_values(member_web.get(path).content.decode())
        assert (proposed["date"], proposed["start"], proposed["end"]) == expected
        assert member_web.get(path, proposed).status_code == 200


def test_the_proposal_respects_the_sites_notice(member_web, room, site):
    from bookings.models import BookingPolicy

    BookingPolicy.objects.create(site=site, min_notice_minutes=120)
    assert _field_values(member_web.get("/rooms/").content.decode())["start"] == "10:30"  # 08:00 + 2 h, next half hour


def test_a_room_day_form_proposes_that_day_in_iso_format(member_web, room):
    html = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-05"}).content.decode()
    assert _field_values(html) == {"date": "2026-03-05", "start": "08:30", "end": "09:30"}
    assert "hour by hour (Copenhagen time)" in html
    past = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-02-20"}).content.decode()
    assert _field_values(past)["date"] == "2026-03-02"  # never propose a day gone by


def test_my_bookings_show_local_times_and_name_another_sites_zone(member_web, member, room, staff):
    from tests.bookings.factories import BookingFactory, RoomFactory
    from tests.factories import SiteFactory

    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    london = SiteFactory(slug="ldn", name="London", timezone="Europe/London")
    thames = RoomFactory(site=london, name="Thames")
    BookingFactory(room=thames, organiser=member, start=local(2026, 3, 4, 11), end=local(2026, 3, 4, 12))
    html = member_web.get("/bookings/").content.decode()
    assert "Times in Copenhagen time" in html
    assert "Tue 3 Mar, 09:00–10:00" in html  # 08:00-09:00 UTC
    assert 'Wed 4 Mar, 10:00–11:00</time><span class="facts__sub muted">London time' in html
    assert "UTC" not in html
    danish = member_web.get("/bookings/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "tir. 3. mar., 09:00–10:00" in danish and "Tue 3 Mar" not in danish  # Danish short dates (labs.dates)
    assert "Bekræftet" in danish and "Confirmed" not in danish


def test_the_zone_choice_names_floor_and_zone_as_people_read_them(member_web, zone, floor):
    """Not Zone.__str__ ("cph First floor / North"): the floor and the zone, the floor once if the name says it."""
    ZoneFactory(floor=floor, slug="atrium", name="First floor atrium")
    html = member_web.get("/desks/").content.decode()
    assert ">First floor · North</option>" in html
    assert ">First floor atrium</option>" in html
    assert f"{floor.site.slug} First floor" not in html


def test_a_search_asked_by_its_date_alone_is_completed_not_refused(member_web, room, desk):
    # A link to "desks on Thursday" (?date= alone): the working day from opening; on the proposed day, the proposal.
    thursday = member_web.get("/desks/", {"date": "2026-03-05"})
    today = member_web.get("/desks/", {"date": "2026-03-02"})
    rooms = member_web.get("/rooms/", {"date": "2026-03-05"})

    assert thursday.status_code == 200 and [d.label for d in thursday.context["desks"]] == ["N-01"]
    assert _field_values(thursday.content.decode()) == {"date": "2026-03-05", "start": "07:00", "end": "17:00"}
    window = [t.isoformat() for t in thursday.context["window"]]
    assert window == ["2026-03-05T07:00:00+01:00", "2026-03-05T17:00:00+01:00"]
    assert _field_values(today.content.decode()) == {"date": "2026-03-02", "start": "08:30", "end": "17:00"}
    assert rooms.status_code == 200 and [r.name for r in rooms.context["rooms"]] == ["Fjord"]
    assert _field_values(rooms.content.decode()) == {"date": "2026-03-05", "start": "08:30", "end": "09:30"}


def test_a_search_by_a_filter_alone_uses_the_proposed_window(member_web, room):
    response = member_web.get("/rooms/", {"capacity": 2})
    assert response.status_code == 200 and [r.name for r in response.context["rooms"]] == ["Fjord"]
    assert _field_values(response.content.decode()) == {"date": "2026-03-02", "start": "08:30", "end": "09:30"}


def test_a_completed_search_still_refuses_a_bad_date_or_time(member_web, room, desk):
    bad_date = member_web.get("/desks/", {"date": "5 March"})
    bad_time = member_web.get("/rooms/", {"date": "2026-03-05", "start": "noon"})
    assert bad_date.status_code == 400 and b"Enter a valid date." in bad_date.content
    assert bad_time.status_code == 400 and b"Enter a valid time." in bad_time.content


def test_the_booking_form_opened_for_a_day_proposes_that_day(member_web, room):
    html = member_web.get("/book/new/", {"room": room.pk, "date": "2026-03-05"}).content.decode()
    assert _field_values(html) == {"date": "2026-03-05", "start": "08:30", "end": "09:30"}


def test_a_desk_held_to_midnight_ends_at_24_not_00(member_web, member, desk):
    from tests.bookings.factories import BookingFactory

    BookingFactory(room=None, desk=desk, organiser=member, start=local(2026, 3, 3, 14, 30), end=local(2026, 3, 4, 0))
    english = member_web.get("/bookings/").content.decode()
    danish = member_web.get("/bookings/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "Tue 3 Mar, 14:30–24:00" in english and "–00:00" not in english
    assert "tir. 3. mar., 14:30–24:00" in danish


def test_ids_that_are_not_plain_numbers_find_nothing_and_are_never_a_500(member_web, room):
    assert member_web.get("/book/new/", {"room": "²"}).status_code == 404
    assert member_web.get("/book/new/", {"room": "9" * 5000}).status_code == 404
    assert member_web.get("/bookings/", {"booked": "²"}).status_code == 200
    assert member_web.post("/book/", {"room": "²", "next": "0"}).status_code in {302, 400}
    cancelled = member_web.post("/bookings/999/cancel/", {"next": "0"})
    assert cancelled.status_code in {302, 404}
