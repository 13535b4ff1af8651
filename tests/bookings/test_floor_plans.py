"""Floor plans: the uploaded SVG is rebuilt from an allow-list, served as an image that runs nothing, and desks and
rooms are placed on it (a service, an API for the staff editor) and shown on the Desks and Rooms pages with their
state at the chosen time."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bookings import selectors, services
from labs.errors import Forbidden, Invalid
from labs.floor_plans import sanitise_svg, viewbox
from tests.bookings.conftest import local
from tests.bookings.factories import DeskFactory
from tests.factories import FloorFactory, ZoneFactory
from tests.sign_in import signed_in

pytestmark = pytest.mark.usefixtures("frozen")

PLAN = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 500"><rect width="980" height="480"/></svg>'
HOSTILE = """<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="400"
     onload="alert('svg')">
  <script>alert('script')</script>
  <script xlink:href="https://evil.example/x.js"/>
  <style>rect { fill: url(https://evil.example/track) }</style>
  <rect x="1" y="2" width="10" height="5" style="fill:red" onclick="steal()" onmouseover="steal()" fill="#123456"/>
  <rect width="3" height="3" fill="url(https://evil.example/pixel)"/>
  <rect width="3" height="3" fill="url(#grad)"/>
  <a href="javascript:alert('link')"><text>click me</text></a>
  <foreignObject width="100" height="100"><div xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.example"/></div></foreignObject>
  <image href="https://evil.example/beacon.png" width="1" height="1"/>
  <use xlink:href="https://evil.example/sprite.svg#a"/>
  <use href="#local"/>
  <animate attributeName="href" to="javascript:alert(1)"/>
  <set attributeName="onmouseover" to="alert(1)"/>
  <text x="5" y="5" font-size="12">Desk <tspan font-weight="bold">A</tspan> area</text>
</svg>"""


def test_a_hostile_svg_keeps_its_drawing_and_loses_everything_that_could_run_or_call_out():
    clean = sanitise_svg(HOSTILE.encode())

    lowered = clean.lower()
    for banned in ["script", "onload", "onclick", "onmouseover", "style", "javascript", "foreignobject", "iframe",
                   "evil.example", "<a", "<image", "<animate", "<set", "xlink"]:  # fmt: skip
        assert banned not in lowered, banned
    assert '<rect x="1" y="2" width="10" height="5" fill="#123456" />' in clean
    assert 'fill="url(#grad)"' in clean and '<use href="#local" />' in clean
    assert 'Desk <tspan font-weight="bold">A</tspan> area' in clean
    assert viewbox(clean) == (0, 0, 800, 400)  # from width and height


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE svg [<!ENTITY lol "lol">]><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">&lol;</svg>',
        b'<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg xmlns="http://www.w3.org/2000/svg"/>',
        b"<html><body>not a drawing</body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg">no size</svg>',
        b"\x89PNG not xml",
    ],
)
def test_what_is_not_a_plain_svg_drawing_is_refused(data):
    with pytest.raises(ValidationError):
        sanitise_svg(data)


def test_the_admin_stores_an_uploaded_plan_only_sanitised(admin_client, site):
    floor = FloorFactory(site=site, level=3, name="Third")
    upload = SimpleUploadedFile("plan.svg", HOSTILE.encode(), content_type="image/svg+xml")

    response = admin_client.post(
        f"/admin/labs/floor/{floor.pk}/change/",
        {"site": site.pk, "level": 3, "name": "Third", "plan_file": upload},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    floor.refresh_from_db()
    assert floor.plan_svg.startswith("<svg") and "script" not in floor.plan_svg and "onload" not in floor.plan_svg
    page = admin_client.get(f"/admin/labs/floor/{floor.pk}/change/")
    assert f"/floors/{floor.pk}/plan/edit/".encode() in page.content


def test_the_admin_refuses_a_plan_it_cannot_read(admin_client, site):
    floor = FloorFactory(site=site, level=3, name="Third")
    upload = SimpleUploadedFile("plan.svg", b"<!DOCTYPE svg><svg/>", content_type="image/svg+xml")

    response = admin_client.post(
        f"/admin/labs/floor/{floor.pk}/change/",
        {"site": site.pk, "level": 3, "name": "Third", "plan_file": upload},
    )

    assert response.status_code == 200 and b"DOCTYPE" in response.content
    floor.refresh_from_db()
    assert floor.plan_svg == ""


def test_the_plan_is_served_as_an_svg_image_that_may_run_nothing(member, floor):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    web = Client()
    web.force_login(member.user)

    response = web.get(f"/floors/{floor.pk}/plan.svg")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert (
        "default-src 'none'" in response["Content-Security-Policy"] and "sandbox" in response["Content-Security-Policy"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Client().get(f"/floors/{floor.pk}/plan.svg").status_code == 302  # signed-in people only


def test_another_sites_plan_is_not_served(outsider_at_another_site, floor):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    web = Client()
    web.force_login(outsider_at_another_site.user)

    assert web.get(f"/floors/{floor.pk}/plan.svg").status_code == 404


@pytest.fixture
def outsider_at_another_site(db):
    from tests.factories import PersonFactory, SiteFactory

    return PersonFactory(site=SiteFactory(slug="aarhus", name="Aarhus"), role="member")


def test_staff_place_desks_and_rooms_through_the_service(staff, floor, desk, room):
    changed = services.floor_plan_positions_set(
        actor=staff,
        floor=floor,
        positions=[
            {"kind": "desk", "id": desk.pk, "x": 12.345, "y": 50},
            {"kind": "room", "id": room.pk, "x": 80, "y": 20},
        ],
    )

    assert changed == {"desks": 1, "rooms": 1}
    desk.refresh_from_db()
    room.refresh_from_db()
    assert (desk.plan_x, desk.plan_y) == (12.35, 50.0) and (room.plan_x, room.plan_y) == (80.0, 20.0)


def test_placing_is_staffs_all_or_nothing_and_on_the_floor(staff, member, floor, site, desk, room):
    other_floor = FloorFactory(site=site, level=2, name="Second")
    stranger = DeskFactory(site=site, floor=other_floor, zone=ZoneFactory(floor=other_floor, slug="s"), label="S-01")

    with pytest.raises(Forbidden):
        services.floor_plan_positions_set(actor=member, floor=floor, positions=[])
    with pytest.raises(Invalid):
        services.floor_plan_positions_set(
            actor=staff,
            floor=floor,
            positions=[
                {"kind": "desk", "id": desk.pk, "x": 1, "y": 1},
                {"kind": "desk", "id": stranger.pk, "x": 2, "y": 2},
            ],
        )
    for bad in [{"x": 101, "y": 5}, {"x": -1, "y": 5}, {"x": 5, "y": None}, {"x": "5", "y": 5}, {"x": True, "y": 5}]:
        with pytest.raises(Invalid):
            services.floor_plan_positions_set(
                actor=staff, floor=floor, positions=[{"kind": "desk", "id": desk.pk, **bad}]
            )
    desk.refresh_from_db()
    assert desk.plan_x is None  # nothing was saved


def test_the_editor_api_saves_positions_for_staff_only(staff, member, floor, desk, room):
    staff_web = signed_in(Client(), staff)
    member_web = Client()
    member_web.force_login(member.user)
    body = {
        "positions": [
            {"kind": "desk", "id": desk.pk, "x": 25, "y": 75},
            {"kind": "room", "id": room.pk, "x": None, "y": None},
        ]
    }
    url = f"/api/v1/floors/{floor.pk}/plan-positions/"

    assert member_web.put(url, body, content_type="application/json").status_code == 403
    response = staff_web.put(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"desks": 1, "rooms": 1}
    desk.refresh_from_db()
    assert (desk.plan_x, desk.plan_y) == (25, 75)
    bad = staff_web.put(
        url, {"positions": [{"kind": "desk", "id": desk.pk, "x": 200, "y": 1}]}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert (
        staff_web.put("/api/v1/floors/999999/plan-positions/", body, content_type="application/json").status_code == 404
    )


def test_the_editor_page_is_for_staff_and_lists_the_floors_desks_and_rooms(staff, member, floor, desk, room):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    member_web = Client()
    member_web.force_login(member.user)

    page = signed_in(Client(), staff).get(f"/floors/{floor.pk}/plan/edit/")

    assert page.status_code == 200
    assert b'data-kind="desk"' in page.content and b'data-kind="room"' in page.content
    assert f"/api/v1/floors/{floor.pk}/plan-positions/".encode() in page.content
    assert member_web.get(f"/floors/{floor.pk}/plan/edit/").status_code == 302


def test_the_plan_says_free_taken_and_mine_at_the_time_asked(
    member, colleague, site, floor, zone, desk, other_desk, room
):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    third = DeskFactory(site=site, floor=floor, zone=zone, label="N-03")
    for thing, x in ((desk, 10), (other_desk, 20), (third, 30), (room, 60)):
        thing.plan_x, thing.plan_y = x, 50
        thing.save()
    services.booking_create(actor=member, desk=desk, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 17))
    services.booking_create(actor=colleague, desk=other_desk, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))

    spots = selectors.floor_plan_spots(
        floor=floor, free_from=local(2026, 3, 3, 9), free_to=local(2026, 3, 3, 17), viewer=member
    )
    later = selectors.floor_plan_spots(
        floor=floor, free_from=local(2026, 3, 3, 17), free_to=local(2026, 3, 3, 18), viewer=member
    )

    assert {s.resource.label if s.kind == "desk" else s.resource.name: s.state for s in spots} == {
        "N-01": "mine", "N-02": "taken", "N-03": "free", "Fjord": "free",
    }  # fmt: skip
    assert {s.state for s in later} == {"free"}
    assert [(s.x, s.y) for s in spots if s.kind == "room"] == [(600, 250)]  # in the plan's own units


def test_a_room_only_clearing_up_after_my_booking_is_taken_on_the_plan_not_mine(member, floor, room):
    """The hour after my 10:00-11:00 booking, with 10 minutes of clearing up, is not bookable, but not mine either."""
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    room.plan_x, room.plan_y, room.buffer_minutes = 60, 50, 10
    room.save()
    services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))

    def state(start, end):
        [spot] = selectors.floor_plan_spots(floor=floor, free_from=start, free_to=end, viewer=member, kinds=("room",))
        return spot.state

    assert state(local(2026, 3, 3, 10), local(2026, 3, 3, 11)) == "mine"
    assert state(local(2026, 3, 3, 11), local(2026, 3, 3, 12)) == "taken"
    assert state(local(2026, 3, 3, 11, 10), local(2026, 3, 3, 12)) == "free"


def test_the_desks_page_shows_the_plan_with_a_link_that_books_each_free_desk(
    member, colleague, site, floor, zone, desk, other_desk
):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    for thing, x in ((desk, 10), (other_desk, 20)):
        thing.plan_x, thing.plan_y = x, 50
        thing.save()
    services.booking_create(actor=colleague, desk=other_desk, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 17))
    web = Client()
    web.force_login(member.user)

    page = web.get("/desks/", {"date": "2026-03-03", "start": "09:00", "end": "17:00"}).content.decode()

    assert f'<image href="/floors/{floor.pk}/plan.svg"' in page
    assert 'aria-label="Book desk N-01 (free)"' in page
    assert f'href="/book/new/?desk={desk.pk}&amp;date=2026-03-03&amp;start=09%3A00&amp;end=17%3A00"' in page
    assert 'aria-label="Desk N-02: taken"' in page and f"/book/new/?desk={other_desk.pk}" not in page
    assert "Book desk N-01</button>" in page  # the list stays


def test_a_desk_held_elsewhere_greys_the_others_on_the_plan_and_in_the_list(
    member, site, floor, zone, desk, other_desk
):
    floor.plan_svg = sanitise_svg(PLAN)
    floor.save()
    other_desk.plan_x = other_desk.plan_y = 50
    other_desk.save()
    services.booking_create(actor=member, desk=desk, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 12))
    web = Client()
    web.force_login(member.user)

    response = web.get("/desks/", {"date": "2026-03-03", "start": "10:00", "end": "17:00"})

    page = response.content.decode()
    assert "You already hold desk N-01 then: one desk at a time." in page
    assert "Book desk N-02</button>" not in page and "Book desk N-02 (free)" not in page
    assert 'data-rule="one_desk"' in page
