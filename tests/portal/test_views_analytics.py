"""The staff analytics dashboard: staff only, charts without colour alone, the job's progress, the CSV."""

from __future__ import annotations

import re

import pytest
import time_machine

from analytics import services
from analytics.choices import RunState
from analytics.models import Run
from tests.analytics.conftest import book, local
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def analysed(site, staff):
    from labs.choices import Role
    from tests.bookings.factories import RoomFactory
    from tests.factories import FloorFactory, PersonFactory

    floor = FloorFactory(site=site, level=1)
    room = RoomFactory(site=site, floor=floor, name="Alpha", capacity=4)
    lonely = RoomFactory(site=site, floor=floor, name="Beta", capacity=4)
    people = [PersonFactory(role=Role.MENTOR, site=site) for _ in range(6)]
    for i, person in enumerate(people):
        book(room, person, local(2026, 3, 3, 8 + i), local(2026, 3, 3, 9 + i), checked_in_at=local(2026, 3, 3, 8 + i))
    book(lonely, people[0], local(2026, 3, 4, 9), local(2026, 3, 4, 10))
    gamma = RoomFactory(site=site, floor=floor, name="Gamma", capacity=10)
    for i, person in enumerate(people[:5]):  # five people: the complement that hides Beta's total
        book(gamma, person, local(2026, 3, 4, 12 + i), local(2026, 3, 4, 13 + i))
    guests = [f"guest{i}@example.test" for i in range(5)]
    book(room, people[1], local(2026, 3, 5, 10), local(2026, 3, 5, 11), attendees=guests)  # Thursday 10:00: six people
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        run = services.run_create(site=site, date_from=local(2026, 3, 2).date(), date_to=local(2026, 3, 8).date())
        services.run_execute(run_id=run.pk)
    return run


@pytest.mark.parametrize("path", ["/analytics/", "/analytics/rooms.csv", "/analytics/runs/1/progress/"])
def test_members_get_403_on_every_analytics_page(client, member, path):
    client.force_login(member.user)
    assert client.get(path).status_code == 403
    assert client.post("/analytics/runs/", PERIOD).status_code == 403


def test_members_do_not_see_the_analytics_area(client, member, staff):
    client.force_login(member.user)
    assert "/analytics/" not in client.get("/").content.decode()
    signed_in(client, staff)
    assert 'href="/analytics/"' in client.get("/").content.decode()


def test_staff_see_the_heatmap_rooms_and_trend_labelled_in_text(client, staff, analysed):
    signed_in(client, staff)
    html = client.get("/analytics/", PERIOD).content.decode()

    assert 'class="chart chart--heatmap"' in html
    assert '<g class="heatmap__cell" data-weekday="3" data-hour="10"><title>Thu 10:00 33% booked</title>' in html
    assert ">33%</text>" in html  # one of three rooms booked: the value is written in the cell, not only shaded
    assert "Tue 08:00 suppressed (fewer than 5 people)" in html and ">n&lt;5</text>" in html
    assert "url(#p-stripes)" in html and "url(#p-dots)" in html  # series differ by pattern, not only colour
    assert "hidden (fewer than five people)" in html  # Beta: one person
    assert "Download CSV" in html
    assert "local days in Copenhagen time" in html and "Europe/" not in html  # the zone as a person reads it


def test_a_run_started_from_the_page_shows_its_progress(client, staff, analysed, django_capture_on_commit_callbacks):
    signed_in(client, staff)
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        response = client.post("/analytics/runs/", PERIOD)
    run = Run.objects.latest("id")
    assert response.status_code == 302
    assert f"run={run.pk}" in response["Location"]

    fragment = client.get(f"/analytics/runs/{run.pk}/progress/").content.decode()
    assert "<progress" in fragment and 'hx-trigger="every 1s"' in fragment
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING, progress=0.42)
    assert "42%" in client.get(f"/analytics/runs/{run.pk}/progress/").content.decode()
    Run.objects.filter(pk=run.pk).update(state=RunState.DONE, progress=1.0)
    done = client.get(f"/analytics/runs/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"


def test_the_csv_download_is_the_rooms_table(client, staff, analysed):
    signed_in(client, staff)
    response = client.get("/analytics/rooms.csv", PERIOD)

    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("room,name,capacity,bookable_h,booked_h,utilisation")
    assert any(",Alpha,4," in line for line in lines)


def test_a_period_too_long_is_refused_in_the_pages_language(client, staff, analysed):
    signed_in(client, staff)
    client.cookies["django_language"] = "da"
    response = client.post("/analytics/runs/", {"from": "2024-01-01", "to": "2026-03-08"}, follow=True)
    assert "En periode er højst 400 dage." in response.content.decode()
    assert not Run.objects.filter(date_from="2024-01-01").exists()


def test_the_dashboard_speaks_danish_recommendations_and_charts_included(client, staff, analysed):
    """The stored run is the same for every reader; the page writes its recommendations, their confidence and
    evidence, and the charts' words again in the reader's language."""
    signed_in(client, staff)
    client.cookies["django_language"] = "da"
    html = client.get("/analytics/", PERIOD).content.decode()

    assert "<title>tor 10:00 33% booket</title>" in html  # the weekday and the cell's words, Danish
    assert "Spøgelse (booket, aldrig brugt)" in html and "Ghost" not in html
    analysed.refresh_from_db()
    evidence = {
        "figures": ["occupancy", "seat_utilisation", "utilisation"],
        "room": 1,
        "name": "Beta",
        "capacity": 4,
        "busiest_hours": 12,
        "occupancy_at_peak": 0.0833,
        "utilisation_at_peak": 0.0833,
        "occupancy": 0.1,
        "utilisation": 0.1,
        "seat_utilisation": 0.25,
    }
    stored = {"kind": "convert_to_desks", "summary": "Consider turning Beta ...", "evidence": evidence}
    older = {"kind": "right_size", "summary": "Kept as stored.", "evidence": {"figures": ["meeting sizes"]}}
    analysed.report["recommendations"] = [{**stored, "confidence": "low"}, {**older, "confidence": "high"}]
    analysed.save(update_fields=["report"])
    html = client.get("/analytics/", PERIOD).content.decode()

    assert "Overvej at gøre" in html and "Consider turning" not in html
    assert (
        "Overvej at gøre Beta (4 pladser) til skriveborde: i stedets 12 travleste timer var det i brug 8% af tiden, "
        "og dets bookinger fylder 25% af pladserne." in html
    )
    assert "Kept as stored." in html  # a run stored before its evidence held every figure keeps its own words
    assert "Sikkerhed: Lav" in html and "Sikkerhed: Høj" in html
    assert "Grundlag: belægning, pladsudnyttelse, udnyttelse" in html and "seat_utilisation" not in html
    assert "<dt>Travleste timer</dt><dd>12</dd>" in html
    assert "<dt>Belægning i de travleste timer</dt><dd>8%</dd>" in html  # a share as a percentage
    assert re.search(r'class="chart__axis">U\d\d</text>', html)  # the trend's weeks, "uge" in Danish
    assert re.search(r'class="chart__value">\d+,\d h</text>', html)  # the bars' hours with a decimal comma
