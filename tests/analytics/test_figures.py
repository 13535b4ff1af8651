"""Every figure of contracts/ANALYTICS.md on synthetic data with known answers (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from analytics import report, services
from analytics.choices import RunState
from analytics.models import RoomDay
from bookings.choices import BookingStatus, DemandKind
from bookings.models import BookingPolicy, DemandSignal
from tests.analytics.conftest import book, local

pytestmark = pytest.mark.django_db

TUESDAY = date(2026, 3, 3)


def run(site, date_from, date_to):
    created = services.run_create(site=site, date_from=date_from, date_to=date_to, enqueue=False)
    done = services.run_execute(run_id=created.pk)
    assert done.state == RunState.DONE, done.error
    return done


@pytest.fixture
def tuesday(site, rooms, people):
    """Room A: six bookings of five people (+4 attendees); room B: one person; room C: five people."""
    a, b, c = rooms["A"], rooms["B"], rooms["C"]
    p = people
    book(a, p[1], local(2026, 3, 3, 9), local(2026, 3, 3, 10), checked_in_at=local(2026, 3, 3, 9, 5),
         attendees=["guest1@example.test"], created=local(2026, 3, 1, 9))  # fmt: skip
    book(a, p[2], local(2026, 3, 3, 10), local(2026, 3, 3, 12), checked_in_at=local(2026, 3, 3, 9, 55),
         attendee_count=3, attendees=["g2@example.test", "g3@example.test", "g4@example.test"],
         created=local(2026, 3, 3, 8))  # fmt: skip
    book(a, p[3], local(2026, 3, 3, 13), local(2026, 3, 3, 14), status=BookingStatus.RELEASED,
         released_at=local(2026, 3, 3, 13, 10), created=local(2026, 3, 2, 13))  # fmt: skip
    book(a, p[4], local(2026, 3, 3, 14), local(2026, 3, 3, 15), status=BookingStatus.CANCELLED)
    book(a, p[5], local(2026, 3, 3, 6), local(2026, 3, 3, 8), created=local(2026, 3, 2, 6))
    book(a, p[6], local(2026, 3, 3, 19), local(2026, 3, 3, 21), checked_in_at=local(2026, 3, 3, 19),
         created=local(2026, 3, 3, 18))  # fmt: skip
    book(b, p[7], local(2026, 3, 3, 10), local(2026, 3, 3, 11), checked_in_at=local(2026, 3, 3, 10))
    for i, hour in enumerate([10, 12, 13, 15, 16]):
        book(c, p[i], local(2026, 3, 3, hour), local(2026, 3, 3, hour + 1), checked_in_at=local(2026, 3, 3, hour))
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        yield run(site, TUESDAY, TUESDAY)


def _room(done, name):
    return next(r for r in done.report["rooms"] if r["name"] == name)


def test_each_room_figure_has_its_known_value(tuesday):
    alpha = _room(tuesday, "Alpha")

    assert alpha["suppressed"] is False
    assert alpha["bookable_h"] == 13.0  # 07:00-20:00
    assert alpha["booked_h"] == 5.0  # 1 + 2 + 1 (06-08 clipped to 07) + 1 (19-21 clipped to 20); no-show excluded
    assert alpha["utilisation"] == round(5 / 13, 4)
    assert alpha["occupied_h"] == 4.0  # 09:05-10:00, 09:55-12:00, none, 19:00-20:00
    assert alpha["occupancy"] == round(4 / 13, 4)
    assert alpha["no_show_rate"] == 0.2  # 1 released of 5 started (the cancelled one never counts)
    assert alpha["ghost_h"] == round(10 / 60, 2)  # 13:00 to its release at 13:10
    assert alpha["seat_utilisation"] == 0.5  # (2/4 + 4/4 + 1/4 + 1/4) / 4 held bookings
    assert alpha["lead_time_h"] == 13.0  # median of 48, 2, 24 and 1 hours
    assert alpha["preferred"] == 3  # 09-10, 06-08 and 19-21 while Beta (same band) was free; not 10-12


def test_a_room_of_one_person_is_suppressed_with_a_complement(tuesday):
    beta, gamma, alpha = _room(tuesday, "Beta"), _room(tuesday, "Gamma"), _room(tuesday, "Alpha")

    assert beta["suppressed"] is True
    assert all(beta[name] is None for name in report.FIGURES)
    # Beta alone would be recovered from the site's total minus the other rooms: the smallest other room goes too.
    assert gamma["suppressed"] is True
    assert alpha["suppressed"] is False


def test_a_suppressed_room_cannot_be_recovered_by_subtraction(tuesday):
    # The attacker's total: every published hour of the heatmap; minus every published room.
    heatmap_total = sum(cell["booked_h"] for cell in tuesday.report["heatmap"] if not cell["suppressed"])
    visible_rooms = sum(r["booked_h"] for r in tuesday.report["rooms"] if not r["suppressed"])

    recovered = heatmap_total - visible_rooms

    beta_true = RoomDay.objects.get(room__name="Beta").booked_h
    gamma_true = RoomDay.objects.get(room__name="Gamma").booked_h
    assert (beta_true, gamma_true) == (1.0, 5.0)
    assert recovered != pytest.approx(beta_true)
    assert recovered != pytest.approx(gamma_true)
    assert recovered <= beta_true + gamma_true  # at best the two together: six people


def test_peak_concurrency_counts_rooms_booked_at_once(tuesday):
    peaks = {(c["weekday"], c["hour"]): c for c in tuesday.report["peak_concurrency"]}

    assert peaks[(1, 10)]["rooms"] == 3  # Alpha, Beta and Gamma at 10:00
    # 12:00 is Gamma alone, booked by one person: its peak would say when that person met, so it is hidden.
    assert peaks[(1, 12)] == {"weekday": 1, "day": "Tue", "hour": 12, "rooms": None, "suppressed": True}


def test_unmet_demand_counts_refusals_and_empty_searches_per_hour_and_band(site, rooms, people, tuesday):
    for _ in range(4):
        services_record(site, local(2026, 3, 3, 10), 3, DemandKind.CONFLICT)
    for _ in range(3):
        services_record(site, local(2026, 3, 3, 10), 4, DemandKind.EMPTY_SEARCH)
    for _ in range(9):
        services_record(site, local(2026, 3, 3, 12), 7, DemandKind.RULE)
    services_record(site, local(2026, 3, 3, 15), 1, DemandKind.EMPTY_SEARCH)
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        done = run(site, TUESDAY, TUESDAY)

    cells = {(c["hour"], c["size_band"]): c for c in done.report["unmet_demand"]}

    assert cells[(12, "5-8")]["attempts"] == 9
    assert cells[(12, "5-8")]["by_kind"] == {"rule": 9}
    # 15:00 has one attempt: suppressed, and so is the next smallest cell (7 at 10:00), so neither is recoverable.
    assert cells[(15, "1-2")]["suppressed"] is True
    assert cells[(10, "3-4")]["suppressed"] is True
    assert cells[(12, "5-8")]["suppressed"] is False


def services_record(site, start, people, kind):
    from bookings.services import demand

    demand._bump(
        site_id=site.pk,
        day=start.date(),
        hour=start.hour,
        band=__import__("bookings.choices", fromlist=["size_band"]).size_band(people),
        kind=kind,
    )


def test_a_dst_spring_day_has_23_hours_and_an_autumn_day_25(site, rooms, people):
    BookingPolicy.objects.create(site=site, opens_at="00:00", closes_at="23:45")
    alpha = rooms["A"]
    book(alpha, people[1], local(2026, 3, 29, 0), local(2026, 3, 29, 6))  # 02:00 does not exist: 5 hours
    book(alpha, people[1], local(2026, 10, 25, 0), local(2026, 10, 25, 6))  # 02:00 happens twice: 7 hours
    with time_machine.travel(local(2026, 11, 1, 9), tick=False):
        run(site, date(2026, 3, 29), date(2026, 3, 29))
        run(site, date(2026, 10, 25), date(2026, 10, 25))

    spring = RoomDay.objects.get(room=alpha, day=date(2026, 3, 29))
    autumn = RoomDay.objects.get(room=alpha, day=date(2026, 10, 25))

    assert spring.bookable_h == pytest.approx(22.75)
    assert spring.booked_h == pytest.approx(5.0)
    assert autumn.bookable_h == pytest.approx(24.75)
    assert autumn.booked_h == pytest.approx(7.0)


def test_only_changed_days_are_recomputed(site, rooms, people):
    book(rooms["A"], people[1], local(2026, 3, 2, 9), local(2026, 3, 2, 10))
    moved = book(rooms["A"], people[1], local(2026, 3, 3, 9), local(2026, 3, 3, 10))
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        first = run(site, date(2026, 3, 2), date(2026, 3, 8))
        again = run(site, date(2026, 3, 2), date(2026, 3, 8))
    with time_machine.travel(local(2026, 3, 10, 10), tick=False):
        moved.start, moved.end = local(2026, 3, 4, 9), local(2026, 3, 4, 10)
        moved.hold_end = moved.end
        moved.save()
        after_move = run(site, date(2026, 3, 2), date(2026, 3, 8))

    assert first.days_recomputed == 7
    assert again.days_recomputed == 0
    assert after_move.days_recomputed == 2  # the day it left and the day it moved to
    assert RoomDay.objects.get(room=rooms["A"], day=date(2026, 3, 3)).booked_h == 0
    assert RoomDay.objects.get(room=rooms["A"], day=date(2026, 3, 4)).booked_h == 1.0


def test_a_day_computed_before_it_ended_is_computed_again(site, rooms, people):
    book(rooms["A"], people[1], local(2026, 3, 3, 9), local(2026, 3, 3, 10))
    with time_machine.travel(local(2026, 3, 3, 12), tick=False):
        assert run(site, TUESDAY, TUESDAY).days_recomputed == 1
    with time_machine.travel(local(2026, 3, 4, 12), tick=False):
        assert run(site, TUESDAY, TUESDAY).days_recomputed == 1
        assert run(site, TUESDAY, TUESDAY).days_recomputed == 0


def test_the_signals_table_has_one_row_per_bucket(site):
    for _ in range(3):
        services_record(site, local(2026, 3, 3, 10), 2, DemandKind.CONFLICT)
    assert DemandSignal.objects.get().count == 3


def test_a_room_with_its_own_hours_is_bookable_and_clipped_by_them(site, rooms, people):
    rooms["B"].opens_at, rooms["B"].closes_at = "09:00", "12:00"
    rooms["B"].save()
    book(rooms["A"], people[1], local(2026, 3, 3, 8), local(2026, 3, 3, 13))
    book(rooms["B"], people[2], local(2026, 3, 3, 8), local(2026, 3, 3, 13), checked_in_at=local(2026, 3, 3, 8))
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        run(site, TUESDAY, TUESDAY)

    a = RoomDay.objects.get(room=rooms["A"])
    b = RoomDay.objects.get(room=rooms["B"])
    assert (a.bookable_h, a.booked_h) == (13.0, 5.0)
    assert (b.bookable_h, b.booked_h, b.occupied_h) == (3.0, 3.0, 3.0)
    from analytics.models import SiteHour

    at_eight = SiteHour.objects.get(band="", hour=8)
    assert (at_eight.bookable_h, at_eight.booked_h, at_eight.occupied_h) == (2.0, 1.0, 0.0)  # B opens at nine
    at_ten = SiteHour.objects.get(band="", hour=10)
    assert (at_ten.bookable_h, at_ten.booked_h, at_ten.occupied_h, at_ten.peak_rooms) == (3.0, 2.0, 1.0, 2)
