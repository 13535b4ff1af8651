"""bookings.demo.seed: rooms over both floors, desks over every zone, a few bookings; running it twice adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest

from bookings import demo
from bookings.models import Booking, Desk, Room
from tests.bookings.conftest import local
from tests.factories import FloorFactory, PersonFactory, ZoneFactory


@pytest.fixture
def demo_site(site, company):
    floors = [FloorFactory(site=site, level=level, name=f"Floor {level}") for level in (1, 2)]
    for floor in floors:
        for slug in ("north", "south", "atrium"):
            ZoneFactory(floor=floor, slug=f"f{floor.level}-{slug}")
    PersonFactory(site=site, company=company, user__username="member")
    PersonFactory(site=site, company=company, user__username="colleague")
    return site


def test_it_seeds_rooms_desks_and_bookings_and_is_idempotent(demo_site, frozen):
    frozen.move_to(local(2026, 3, 2, 9, 15))
    out = StringIO()

    demo.seed(site=demo_site, stdout=out)
    counts = (Room.objects.count(), Desk.objects.count(), Booking.objects.count())
    demo.seed(site=demo_site, stdout=out)

    assert counts == (12, 60, 6)
    assert (Room.objects.count(), Desk.objects.count(), Booking.objects.count()) == counts
    assert set(Room.objects.values_list("floor__level", flat=True)) == {1, 2}
    assert Desk.objects.values("zone").distinct().count() == 6
    assert sorted(set(Room.objects.values_list("capacity", flat=True)))[0] == 2
    assert "0 new demo bookings" in out.getvalue().splitlines()[-1]


def test_it_does_nothing_without_floors(site):
    out = StringIO()
    demo.seed(site=site, stdout=out)
    assert Room.objects.count() == 0
    assert "nothing seeded" in out.getvalue()


def test_every_demo_floor_gets_a_plan_with_its_desks_and_rooms_placed_and_staff_moves_are_kept(demo_site, frozen):
    from labs.floor_plans import viewbox
    from labs.models import Floor

    demo.seed(site=demo_site, stdout=StringIO())
    moved = Desk.objects.order_by("label").first()
    moved.plan_x, moved.plan_y = 1.5, 2.5
    moved.save()
    plans = dict(Floor.objects.values_list("pk", "plan_svg"))
    demo.seed(site=demo_site, stdout=StringIO())

    assert all(viewbox(svg) == (0, 0, 1000, 600) for svg in plans.values())
    assert dict(Floor.objects.values_list("pk", "plan_svg")) == plans
    assert (
        not Desk.objects.filter(plan_x__isnull=True).exists() and not Room.objects.filter(plan_x__isnull=True).exists()
    )
    moved.refresh_from_db()
    assert (moved.plan_x, moved.plan_y) == (1.5, 2.5)
    positions = list(Desk.objects.values_list("floor", "plan_x", "plan_y"))
    assert len(set(positions)) == len(positions)  # no two desks on one spot
