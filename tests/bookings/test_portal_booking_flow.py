"""Booking as people book, in the portal: search shows what the rules refuse (greyed, with the reason) using the
create path's own rule check, a room's free hour books it, the full form repeats and invites, staff book for someone,
cancelling asks first and names the booking, and the confirmation offers "add to my calendar"."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from bookings import services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking, BookingPolicy
from labs.errors import RuleViolation
from tests.bookings.conftest import local
from tests.bookings.factories import RoomFactory
from tests.sign_in import signed_in

pytestmark = pytest.mark.usefixtures("frozen")


def _web(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


@pytest.fixture
def member_web(member):
    return _web(member)


@pytest.fixture
def strict_room(site, floor):
    """A room that must be booked a day ahead."""
    return RoomFactory(site=site, floor=floor, name="Strict", capacity=4, min_notice_minutes=24 * 60)


def test_search_greys_a_room_the_rules_refuse_and_says_why(member_web, room, strict_room):
    response = member_web.get("/rooms/", {"date": "2026-03-02", "start": "10:00", "end": "11:00"})

    page = response.content.decode()
    results = {r["room"].name: r["refusal"] for r in response.context["results"]}
    assert results["Fjord"] is None
    assert results["Strict"].extra["rule"] == "min_notice"
    assert "Book at least 1 day ahead" in page
    assert "Book Fjord</button>" in page and "Book Strict</button>" not in page
    assert "booking-result--refused" in page


def test_amenities_read_in_the_persons_language_and_an_operators_own_as_written(member_web, site, room):
    room.amenities = ["screen", "video", "sauna_corner"]
    room.save()
    search = {"date": "2026-03-04", "start": "10:00", "end": "11:00"}

    english = member_web.get("/rooms/", search).content.decode()
    danish = member_web.get("/rooms/", search, HTTP_ACCEPT_LANGUAGE="da").content.decode()

    assert '<span class="tag">Screen</span>' in english and '<span class="tag">Sauna corner</span>' in english
    assert '<span class="tag">Skærm</span>' in danish and '<span class="tag">Sauna corner</span>' in danish
    assert re.search(r'value="screen"[^>]*>\s*Skærm</label>', danish)  # the search's own checkbox too


def test_search_on_a_closed_day_greys_every_room_and_says_so(member_web, site, room, strict_room):
    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 4).date(), reason="Holiday")

    response = member_web.get("/rooms/", {"date": "2026-03-04", "start": "10:00", "end": "11:00"})

    assert {r["refusal"].extra["rule"] for r in response.context["results"]} == {"closed"}
    page = response.content.decode()
    assert "closed on Wednesday 4 March 2026 (Holiday)" in page and "Book Fjord</button>" not in page
    assert response.context["closed_notice"] == f"{site.name} is closed on Wednesday 4 March 2026 (Holiday)."
    assert 'id="closed-day"' in page
    open_day = member_web.get("/rooms/", {"date": "2026-03-05", "start": "10:00", "end": "11:00"})
    assert open_day.context["closed_notice"] is None and 'id="closed-day"' not in open_day.content.decode()
    member_web.post("/i18n/setlang/", {"language": "da"})
    danish = member_web.get("/rooms/", {"date": "2026-03-04", "start": "10:00", "end": "11:00"}).content.decode()
    assert f"{site.name} er lukket onsdag den 4. marts 2026 (Holiday)." in danish


def test_search_greys_rooms_past_the_companys_weekly_quota(member_web, colleague, site, room, strict_room):
    BookingPolicy.objects.update_or_create(site=site, defaults={"company_weekly_room_hours": 2})
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 11))

    response = member_web.get("/rooms/", {"date": "2026-03-04", "start": "10:00", "end": "11:00"})

    assert {r["refusal"].extra["rule"] for r in response.context["results"]} == {"company_weekly_quota"}
    assert b"weekly room hours left" in response.content


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        ((2026, 3, 2), (8, 30), (9, 30)),  # fine for Fjord, too soon for Strict
        ((2026, 3, 3), (10, 0), (11, 0)),  # fine for both
        ((2026, 3, 2), (6, 0), (7, 30)),  # before opening
        ((2026, 3, 2), (19, 30), (20, 30)),  # after closing
        ((2026, 3, 2), (9, 0), (9, 5)),  # too short
        ((2026, 3, 2), (9, 0), (17, 30)),  # too long
        ((2026, 9, 1), (9, 0), (10, 0)),  # too far ahead
        ((2026, 3, 1), (9, 0), (10, 0)),  # in the past
    ],
)
def test_what_search_refuses_is_exactly_what_booking_refuses(member, room, strict_room, day, start, end):
    """One rule, every entry point: the search's refusal and the create path's RuleViolation agree, rule for rule."""
    window = local(*day, *start), local(*day, *end)
    refusals = services.booking_refusals(
        resources=[room, strict_room], organiser=member, start=window[0], end=window[1]
    )
    for resource in (room, strict_room):
        try:
            booking = services.booking_create(actor=member, room=resource, start=window[0], end=window[1])
        except RuleViolation as exc:
            assert refusals[("room", resource.pk)].extra["rule"] == exc.extra["rule"]
        else:
            assert ("room", resource.pk) not in refusals
            booking.delete()


def test_a_member_is_warned_before_holding_two_rooms_at_once(member_web, member, room, strict_room, site, floor):
    other = RoomFactory(site=site, floor=floor, name="Other", capacity=4)
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    search = member_web.get("/rooms/", {"date": "2026-03-03", "start": "10:30", "end": "11:30"})
    form = member_web.get("/book/new/", {"room": other.pk, "date": "2026-03-03", "start": "10:30", "end": "11:30"})
    elsewhere = member_web.get("/rooms/", {"date": "2026-03-03", "start": "12:00", "end": "13:00"})

    for page in (search, form):
        assert b'id="two-rooms"' in page.content and b"holding two rooms at once" in page.content
        assert b"<strong>Fjord</strong> 10:00\xe2\x80\x9311:00" in page.content
    assert b'id="two-rooms"' not in elsewhere.content


def test_a_rooms_free_hour_links_to_booking_it_and_a_past_hour_does_not(member_web, room, colleague):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 11))

    response = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-02"})

    page = response.content.decode()
    assert f"/book/new/?room={room.pk}&amp;date=2026-03-02&amp;start=09:00&amp;end=10:00" in page
    assert "start=10:00&amp;end=11:00" not in page  # booked
    assert "start=07:00&amp;end=08:00" not in page  # already begun (08:00 now)
    assert "Free: book 09:00–10:00" in page


def test_a_rooms_day_opens_on_the_next_day_with_a_bookable_hour(member_web, room, frozen):
    """In the evening, after the last hour has begun, the room's page opens on tomorrow, not on a day of past
    hours; a day asked for is still shown."""
    frozen.move_to(local(2026, 3, 2, 22, 35))

    page = member_web.get(f"/rooms/{room.pk}/").content.decode()

    assert f"/book/new/?room={room.pk}&amp;date=2026-03-03&amp;start=07:00&amp;end=08:00" in page
    asked = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-02"}).content.decode()
    assert "date=2026-03-02&amp;start=" not in asked and "Free: book" not in asked  # every hour of it has begun


def test_a_rooms_day_tells_its_buffer_from_a_booking(member_web, member, room):
    """With 10 minutes of clearing up after each meeting, the hour after one is held but booked by no one: the grid
    says so (it said "Yours" for two hours of a one-hour booking), and the list says when the room is free again."""
    room.buffer_minutes = 10
    room.save(update_fields=["buffer_minutes"])
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    page = member_web.get(f"/rooms/{room.pk}/", {"date": "2026-03-03"}).content.decode()

    grid = re.findall(r'day-grid__state">([^<]*)', page)
    assert grid.count("Yours") == 1, grid
    assert "Clearing up after a booking" in grid
    assert "10:00–11:00 · <strong>yours</strong>" in page and "(room free again 11:10)" in page
    assert "start=11:00&amp;end=12:00" not in page  # the buffer's hour is not offered either


def test_the_booking_form_books_a_weekly_series_with_attendees(member_web, member, room):
    response = member_web.post(
        "/book/new/",
        {
            "room": room.pk,
            "date": "2026-03-03",
            "start": "14:00",
            "end": "15:00",
            "title": "Stand-up",
            "attendees": "ada@example.com, grace@example.com\nada@example.com",
            "repeat": "WEEKLY",
            "weekdays": ["TU", "TH"],
            "count": "4",
        },
    )

    bookings = list(Booking.objects.filter(organiser=member).order_by("start"))
    assert response.status_code == 302 and response["Location"] == f"/bookings/?booked={bookings[0].pk}"
    assert [b.start for b in bookings] == [
        local(2026, 3, 3, 14), local(2026, 3, 5, 14), local(2026, 3, 10, 14), local(2026, 3, 12, 14),
    ]  # fmt: skip
    assert bookings[0].series.rrule == "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4"
    assert bookings[0].attendees == ["ada@example.com", "grace@example.com"]
    assert {b.title for b in bookings} == {"Stand-up"}


def test_a_weekly_series_books_around_a_taken_slot_and_a_closed_day_and_says_which_is_which(
    member_web, member, colleague, room, site
):
    from bookings.models import Closure

    Closure.objects.create(site=site, day=local(2026, 3, 10).date(), reason="Holiday")
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 17, 14), end=local(2026, 3, 17, 15))
    form = {"room": room.pk, "date": "2026-03-03", "start": "14:00", "end": "15:00", "repeat": "WEEKLY"}

    response = member_web.post("/book/new/", {**form, "weekdays": ["TU"], "count": "4"}, follow=True)

    days = [b.start.date().isoformat() for b in Booking.objects.filter(organiser=member).order_by("start")]
    assert days == ["2026-03-03", "2026-03-24"]
    page = response.content.decode()
    assert "Not booked (already taken): Tuesday 17 March 2026." in page
    assert f"Not booked ({site.name} is closed): Tuesday 10 March 2026." in page


def test_the_booking_form_repeats_daily_until_a_date(member_web, member, room):
    member_web.post(
        "/book/new/",
        {
            "room": room.pk,
            "date": "2026-03-05",
            "start": "09:00",
            "end": "09:30",
            "repeat": "DAILY",
            "until": "2026-03-10",
        },
    )

    days = [b.start.date().isoformat() for b in Booking.objects.filter(organiser=member).order_by("start")]
    assert days == ["2026-03-05", "2026-03-06", "2026-03-09", "2026-03-10"]  # weekdays


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"repeat": "WEEKLY", "count": "3"}, b"Tick the days of the week."),
        ({"repeat": "DAILY"}, b"Say how many times it repeats, or until when."),
        ({"repeat": "DAILY", "count": "3", "until": "2026-03-20"}, b"not both"),
        ({"attendees": "not-an-address"}, b"is not an e-mail address"),
        ({"start": "21:00", "end": "22:00"}, b"Not booked: Bookable 07:00-20:00"),
    ],
)
def test_the_booking_form_explains_what_is_wrong(member_web, room, extra, error):
    data = {"room": room.pk, "date": "2026-03-03", "start": "10:00", "end": "11:00", **extra}

    response = member_web.post("/book/new/", data)

    assert response.status_code == 400 and error in response.content
    assert not Booking.objects.exists()


def test_staff_book_on_someones_behalf_and_members_cannot(staff, member, colleague, room, desk):
    staff_web = signed_in(Client(), staff)
    form = staff_web.get("/book/new/", {"room": room.pk})
    assert b'name="organiser"' in form.content

    booked = staff_web.post(
        "/book/new/",
        {"room": room.pk, "date": "2026-03-03", "start": "10:00", "end": "11:00", "organiser": member.pk},
        follow=True,
    )
    assert f"Booked for {member.display_name}: it is in their bookings, not in yours." in booked.content.decode()
    _web(colleague).post(
        "/book/new/", {"desk": desk.pk, "date": "2026-03-03", "start": "09:00", "end": "17:00", "organiser": member.pk}
    )

    on_behalf = Booking.objects.get(room=room)
    assert on_behalf.organiser == member and on_behalf.created_by == staff
    assert on_behalf.source == BookingSource.STAFF
    assert Booking.objects.get(desk=desk).organiser == colleague  # the field is not there for members
    assert b'name="organiser"' not in _web(colleague).get("/book/new/", {"room": room.pk}).content


def test_cancel_asks_first_naming_the_booking(member_web, member, room):
    booking = services.booking_create(
        actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Review"
    )

    confirm = member_web.get(f"/bookings/{booking.pk}/cancel/")

    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Cancel Fjord?" in page and "Tuesday 3 March 2026, 10:00–11:00" in page and "Review" in page
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED  # asking changes nothing
    listing = member_web.get("/bookings/").content.decode()
    assert f'href="/bookings/{booking.pk}/cancel/"' in listing
    member_web.post(f"/bookings/{booking.pk}/cancel/")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    again = member_web.get(f"/bookings/{booking.pk}/cancel/").content.decode()  # back, after cancelling
    assert "Fjord: Cancelled" in again and "Cancel Fjord?" not in again and "Yes, cancel it" not in again


def test_the_confirmation_offers_add_to_my_calendar(member_web, member, outsider, room):
    booking = services.booking_create(
        actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11), title="Review"
    )
    services.booking_create(actor=member, room=room, start=local(2026, 3, 4, 10), end=local(2026, 3, 4, 11))

    page = member_web.get("/bookings/", {"booked": booking.pk}).content.decode()
    ics = member_web.get(f"/bookings/{booking.pk}/calendar.ics")

    assert f'href="/bookings/{booking.pk}/calendar.ics"' in page and "Add to my calendar" in page
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    body = ics.content.decode()
    assert body.count("BEGIN:VEVENT") == 1 and "SUMMARY:Review" in body
    assert _web(outsider).get(f"/bookings/{booking.pk}/calendar.ics").status_code == 404


def test_subscribing_shows_a_private_feed_that_works(member_web, member, room):
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    response = member_web.post("/bookings/calendar-feed/")

    url = response.context["url"]
    assert response.status_code == 200 and url.startswith("http://testserver/api/v1/calendar/feeds/")
    assert response.context["webcal"].startswith("webcal://testserver/")
    feed = Client().get(url.removeprefix("http://testserver"))
    assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.content


def test_the_web_app_manifest_opens_my_badge_and_has_its_icons(client, db):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200 and response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["start_url"].startswith("/badge/") and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        data = Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20]), int.from_bytes(data[20:24])
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert sizes == {192, 512}


def test_every_portal_page_links_the_manifest(member_web):
    page = member_web.get("/bookings/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_the_proposed_room_time_is_the_next_bookable_slot(member_web, site, room):
    BookingPolicy.objects.update_or_create(site=site, defaults={"min_notice_minutes": 90})

    form = member_web.get("/rooms/").context["form"]

    start = form.initial["start"]
    assert (form.initial["date"].isoformat(), start.strftime("%H:%M")) == ("2026-03-02", "10:00")
    assert timedelta(hours=start.hour - 8, minutes=start.minute) >= timedelta(minutes=90)


def test_the_proposed_desk_day_skips_days_on_which_the_member_already_holds_a_desk(
    member_web, member, desk, other_desk
):
    for day in (2, 3):
        services.booking_create(actor=member, desk=desk, start=local(2026, 3, day, 9), end=local(2026, 3, day, 17))

    form = member_web.get("/desks/").context["form"]

    assert (form.initial["date"].isoformat(), f"{form.initial['start']:%H:%M}", f"{form.initial['end']:%H:%M}") == (
        "2026-03-04",
        "07:00",
        "17:00",
    )
    search = member_web.get("/desks/", {"date": "2026-03-04", "start": "07:00", "end": "17:00"})
    assert all(r["refusal"] is None for r in search.context["results"]) and search.context["results"]


def test_a_desk_held_then_is_refused_by_search_as_booking_refuses_it(member, desk, other_desk):
    from labs.errors import Conflict

    services.booking_create(actor=member, desk=desk, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 12))
    window = local(2026, 3, 3, 11), local(2026, 3, 3, 17)

    refusals = services.booking_refusals(resources=[desk, other_desk], organiser=member, start=window[0], end=window[1])
    later = services.booking_refusals(
        resources=[other_desk], organiser=member, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 17)
    )

    assert refusals[("desk", other_desk.pk)].extra["rule"] == "one_desk"
    assert "You already hold desk N-01 then" in refusals[("desk", other_desk.pk)].detail
    with pytest.raises(Conflict, match="You already hold a desk"):
        services.booking_create(actor=member, desk=other_desk, start=window[0], end=window[1])
    assert later == {}  # the held desk has ended by then


def test_the_confirmation_offers_the_own_calendar_by_its_state(member_web, member, room):
    from calendars.models import PersonalCalendar

    booking = services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    def offer():
        page = member_web.get("/bookings/", {"booked": booking.pk}).content.decode()
        return page.split('data-own-calendar="')[1].split('"')[0]

    assert offer() == "none"
    calendar = PersonalCalendar(person=member, provider="google", account="member@acme.example")
    calendar.refresh_token = "1//refresh"
    calendar.save()
    assert offer() == "connected"
    PersonalCalendar.objects.filter(pk=calendar.pk).update(status="needs_reconnect")
    assert offer() == "needs_reconnect"


def test_a_session_that_ended_on_a_booking_button_leads_back_to_the_search_after_signing_in(
    member, room, password, client
):
    """The POST is lost when the session has ended: signing in again returns to where the button was (the
    search, the room's form), not to a 405 or a 404."""
    search = "/rooms/?date=2026-03-03&start=11:00&end=12:00"
    signed_in(client, member)
    page = client.get(search).content.decode()
    action = re.search(r'<form method="post" action="(/book/\?next=[^"]+)"', page).group(1)
    form_page = client.get(f"/book/new/?room={room.pk}&date=2026-03-03&start=11:00&end=12:00").content.decode()
    form_action = re.search(r'<form method="post" action="(/book/new/[^"]*)"', form_page).group(1)
    client.logout()

    for posted, back in [(action, search), (form_action, f"/book/new/?room={room.pk}")]:
        to_sign_in = client.post(posted.replace("&amp;", "&"), {"room": room.pk})
        assert to_sign_in.status_code == 302 and to_sign_in["Location"].startswith("/sign-in/?next=")
        after = client.post(to_sign_in["Location"], {"username": "member", "password": password})
        landed = client.get(after["Location"], follow=True)
        assert landed.status_code == 200, (posted, after["Location"], landed.status_code)
        assert (landed.redirect_chain[-1][0] if landed.redirect_chain else after["Location"]) == back
        client.logout()
    assert not Booking.objects.exists()


def test_the_booking_form_without_a_room_or_desk_sends_to_the_search(member_web):
    response = member_web.get("/book/new/")
    assert response.status_code == 302 and response["Location"] == "/rooms/"
    assert member_web.get("/book/new/?room=999999").status_code == 404  # a room that is not there is still a 404
