"""GET /api/v1/rooms/, /rooms/{id}/availability/, /desks/ and /desks/{id}/availability/."""

from __future__ import annotations

import pytest

from bookings import services
from tests.bookings.conftest import local
from tests.bookings.factories import DeskFactory, RoomFactory
from tests.factories import FloorFactory, SiteFactory, ZoneFactory

pytestmark = pytest.mark.usefixtures("frozen")

ROOMS = "/api/v1/rooms/"
DESKS = "/api/v1/desks/"


@pytest.fixture
def rooms(site, floor):
    second = FloorFactory(site=site, level=2, name="Second floor")
    return {
        "small": RoomFactory(site=site, floor=floor, name="Nook", capacity=2, amenities=["screen"]),
        "medium": RoomFactory(site=site, floor=floor, name="Fjord", capacity=6, amenities=["screen", "video"]),
        "large": RoomFactory(site=site, floor=second, name="Hall", capacity=20, amenities=["video", "whiteboard"]),
    }


def _names(response):
    assert response.status_code == 200, response.content
    return sorted(r["name"] for r in response.json()["results"])


def test_it_lists_rooms_with_their_details(member_client, rooms):
    body = member_client.get(ROOMS).json()

    assert body["count"] == 3
    hall = next(r for r in body["results"] if r["name"] == "Hall")
    assert hall == {
        "id": rooms["large"].pk,
        "name": "Hall",
        "site": "cph",
        "floor": 2,
        "floor_name": "Second floor",
        "capacity": 20,
        "amenities": ["video", "whiteboard"],
        "buffer_minutes": 0,
    }


def test_it_filters_by_capacity_amenity_floor_and_site(member_client, rooms):
    assert _names(member_client.get(ROOMS, {"capacity_min": 5})) == ["Fjord", "Hall"]
    assert _names(member_client.get(ROOMS, {"amenity": "video"})) == ["Fjord", "Hall"]
    assert _names(member_client.get(ROOMS + "?amenity=video&amenity=screen")) == ["Fjord"]
    assert _names(member_client.get(ROOMS, {"amenity": "sauna"})) == []
    assert _names(member_client.get(ROOMS, {"floor": 2})) == ["Hall"]
    assert _names(member_client.get(ROOMS, {"site": "cph"})) == ["Fjord", "Hall", "Nook"]
    SiteFactory(slug="aar")
    assert _names(member_client.get(ROOMS, {"site": "aar"})) == []


def test_free_from_and_free_to_keep_only_rooms_free_for_the_whole_window(member, member_client, rooms):
    services.booking_create(actor=member, room=rooms["medium"], start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))
    window = {"free_from": "2026-03-03T10:30:00+01:00", "free_to": "2026-03-03T12:00:00+01:00"}

    assert _names(member_client.get(ROOMS, window)) == ["Hall", "Nook"]
    assert _names(member_client.get(ROOMS, {**window, "free_from": "2026-03-03T11:00:00+01:00"})) == [
        "Fjord",
        "Hall",
        "Nook",
    ]
    assert _names(member_client.get(ROOMS, {**window, "capacity_min": 4})) == ["Hall"]


def test_the_free_window_counts_the_rooms_buffer(member, member_client, rooms):
    rooms["large"].buffer_minutes = 30
    rooms["large"].save()
    services.booking_create(actor=member, room=rooms["large"], start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))

    # Booking Hall 11:00-12:00 would hold it until 12:30, into the 12:00 booking: not free.
    window = {"free_from": "2026-03-03T11:00:00+01:00", "free_to": "2026-03-03T12:00:00+01:00"}
    assert _names(member_client.get(ROOMS, window)) == ["Fjord", "Nook"]
    # 13:00 is inside Hall's turnaround after the 12:00 booking.
    window = {"free_from": "2026-03-03T13:00:00+01:00", "free_to": "2026-03-03T14:00:00+01:00"}
    assert _names(member_client.get(ROOMS, window)) == ["Fjord", "Nook"]
    window = {"free_from": "2026-03-03T13:30:00+01:00", "free_to": "2026-03-03T14:00:00+01:00"}
    assert _names(member_client.get(ROOMS, window)) == ["Fjord", "Hall", "Nook"]


@pytest.mark.parametrize(
    "params",
    [
        {"free_from": "2026-03-03T10:00:00"},
        {"free_from": "2026-03-03T10:00:00", "free_to": "2026-03-03T11:00:00"},
        {"free_from": "2026-03-03T11:00:00+01:00", "free_to": "2026-03-03T10:00:00+01:00"},
        {"free_from": "2026-03-03T11:00:00+01:00", "free_to": "2026-05-03T10:00:00+01:00"},
        {"free_from": "yesterday", "free_to": "today"},
        {"capacity_min": "lots"},
        {"site": "nowhere"},
    ],
)
def test_bad_filters_are_a_400_never_a_500(member_client, rooms, params):
    response = member_client.get(ROOMS, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_free_window_search_is_one_query(member_client, rooms, django_assert_max_num_queries):
    window = {"free_from": "2026-03-03T10:30:00+01:00", "free_to": "2026-03-03T12:00:00+01:00", "amenity": "video"}
    # Authentication (user, person) + count + page; the filter adds no query of its own on PostgreSQL.
    with django_assert_max_num_queries(5):
        assert member_client.get(ROOMS, window).status_code == 200


def test_availability_lists_the_busy_intervals_of_a_local_day(member, colleague, member_client, rooms):
    fjord = rooms["medium"]
    mine = services.booking_create(actor=member, room=fjord, start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10))
    services.booking_create(actor=colleague, room=fjord, start=local(2026, 3, 3, 14), end=local(2026, 3, 3, 15))
    services.booking_create(actor=colleague, room=fjord, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 10))

    body = member_client.get(f"{ROOMS}{fjord.pk}/availability/", {"date": "2026-03-03"}).json()

    assert body["timezone"] == "Europe/Copenhagen"
    assert body["busy"] == [
        {
            "start": "2026-03-03T09:00:00+01:00",
            "end": "2026-03-03T10:00:00+01:00",
            "held_until": "2026-03-03T10:00:00+01:00",
            "mine": True,
            "booking": mine.pk,
        },
        {
            "start": "2026-03-03T14:00:00+01:00",
            "end": "2026-03-03T15:00:00+01:00",
            "held_until": "2026-03-03T15:00:00+01:00",
            "mine": False,
            "booking": None,
        },
    ]


def test_availability_of_the_short_dst_day(member, member_client, rooms):
    """29 March 2026 has 23 hours in Copenhagen: 23:30 local that day is 21:30 UTC and still belongs to it."""
    fjord = rooms["medium"]
    fjord.opens_at, fjord.closes_at = local(2026, 1, 1, 0).time(), local(2026, 1, 1, 23, 59).time()
    fjord.save()
    services.booking_create(actor=member, room=fjord, start=local(2026, 3, 29, 23), end=local(2026, 3, 29, 23, 30))

    busy = member_client.get(f"{ROOMS}{fjord.pk}/availability/", {"date": "2026-03-29"}).json()["busy"]
    assert [b["start"] for b in busy] == ["2026-03-29T23:00:00+02:00"]
    assert member_client.get(f"{ROOMS}{fjord.pk}/availability/", {"date": "2026-03-30"}).json()["busy"] == []


def test_availability_needs_a_date(member_client, rooms):
    response = member_client.get(f"{ROOMS}{rooms['small'].pk}/availability/", {"date": "03/03/2026"})
    assert response.status_code == 400


def test_an_unknown_or_inactive_room_is_404(member_client, rooms):
    rooms["small"].is_active = False
    rooms["small"].save()
    assert member_client.get(f"{ROOMS}{rooms['small'].pk}/").status_code == 404
    assert member_client.get(f"{ROOMS}999999/availability/", {"date": "2026-03-03"}).status_code == 404


def test_anonymous_callers_see_no_rooms_or_desks(anon_client, rooms):
    assert anon_client.get(ROOMS).status_code in {401, 403}
    assert anon_client.get(DESKS).status_code in {401, 403}


def test_the_outsider_sees_busy_times_but_never_who_booked(member, outsider_client, rooms):
    services.booking_create(
        actor=member, room=rooms["small"], start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), title="Secret deal"
    )

    response = outsider_client.get(f"{ROOMS}{rooms['small'].pk}/availability/", {"date": "2026-03-03"})

    assert response.status_code == 200
    assert response.json()["busy"][0]["mine"] is False
    assert response.json()["busy"][0]["booking"] is None
    assert b"Secret" not in response.content and b"member" not in response.content


@pytest.fixture
def desks(site, floor, zone):
    south = ZoneFactory(floor=floor, slug="south", name="South")
    return {
        "n1": DeskFactory(site=site, floor=floor, zone=zone, label="N-01", amenities=["monitor"]),
        "n2": DeskFactory(site=site, floor=floor, zone=zone, label="N-02"),
        "s1": DeskFactory(site=site, floor=floor, zone=south, label="S-01", amenities=["monitor", "standing"]),
    }


def _labels(response):
    assert response.status_code == 200, response.content
    return sorted(r["label"] for r in response.json()["results"])


def test_it_lists_and_filters_desks(member, member_client, desks):
    services.booking_create(actor=member, desk=desks["n1"], start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 17))
    window = {"free_from": "2026-03-03T12:00:00+01:00", "free_to": "2026-03-03T13:00:00+01:00"}

    assert _labels(member_client.get(DESKS)) == ["N-01", "N-02", "S-01"]
    assert _labels(member_client.get(DESKS, {"zone": "south"})) == ["S-01"]
    assert _labels(member_client.get(DESKS, {"amenity": "monitor"})) == ["N-01", "S-01"]
    assert _labels(member_client.get(DESKS, window)) == ["N-02", "S-01"]
    assert _labels(member_client.get(DESKS, {**window, "amenity": "monitor"})) == ["S-01"]
    assert _labels(member_client.get(DESKS, {"capacity_min": 2})) == []
    desk = member_client.get(f"{DESKS}{desks['s1'].pk}/").json()
    assert desk == {
        "id": desks["s1"].pk,
        "label": "S-01",
        "site": "cph",
        "floor": 1,
        "zone": "south",
        "amenities": ["monitor", "standing"],
    }


def test_desk_availability(member, outsider_client, desks):
    services.booking_create(actor=member, desk=desks["n1"], start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 17))

    body = outsider_client.get(f"{DESKS}{desks['n1'].pk}/availability/", {"date": "2026-03-03"}).json()

    assert [(b["start"], b["end"], b["mine"]) for b in body["busy"]] == [
        ("2026-03-03T09:00:00+01:00", "2026-03-03T17:00:00+01:00", False)
    ]
