"""The analytics endpoints: staff of the site only (members 403, another site's staff 404), runs with progress,
the rooms table as JSON and CSV, recommendations."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine

from analytics.models import Run
from labs.choices import Role
from tests.analytics.conftest import book, local
from tests.factories import PersonFactory, SiteFactory

pytestmark = pytest.mark.django_db

PERIOD = "?from=2026-03-02&to=2026-03-08"
ROUTES = [
    ("get", "/api/v1/analytics/rooms/" + PERIOD),
    ("get", "/api/v1/analytics/rooms.csv" + PERIOD),
    ("get", "/api/v1/analytics/recommendations/" + PERIOD),
    ("post", "/api/v1/analytics/runs/"),
    ("get", "/api/v1/analytics/runs/1/"),
]


@pytest.fixture
def history(site, rooms, people):
    for i in range(6):
        book(
            rooms["A"],
            people[i],
            local(2026, 3, 3, 8 + i),
            local(2026, 3, 3, 9 + i),
            checked_in_at=local(2026, 3, 3, 8 + i),
        )
    return rooms


def _start(client, site_slug="cph", django_capture_on_commit_callbacks=None):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            "/api/v1/analytics/runs/", {"site": site_slug, "from": "2026-03-02", "to": "2026-03-08"}, format="json"
        )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_members_get_403_on_every_analytics_route(member_client, method, path):
    response = getattr(member_client, method)(
        path, {"site": "cph", "from": "2026-03-02", "to": "2026-03-08"} if method == "post" else None, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_callers_are_refused_on_every_analytics_route(anon_client, method, path):
    assert getattr(anon_client, method)(path).status_code in {401, 403}


def test_staff_of_another_site_get_404(history, django_capture_on_commit_callbacks):
    other = PersonFactory(role=Role.STAFF, site=SiteFactory(slug="aar", timezone="Europe/Copenhagen"), company=None)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(other.user)
    assert _start(client, "cph", django_capture_on_commit_callbacks).status_code == 404
    assert client.get("/api/v1/analytics/rooms/" + PERIOD + "&site=cph").status_code == 404
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        run = Run.objects.create(site=history["A"].site, date_from="2026-03-02", date_to="2026-03-08")
    assert client.get(f"/api/v1/analytics/runs/{run.pk}/").status_code == 404


def test_a_run_is_queued_executed_and_followed(staff_client, history, django_capture_on_commit_callbacks):
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        response = _start(staff_client, "cph", django_capture_on_commit_callbacks)
        assert response.status_code == 202
        body = response.json()
        assert body["state"] == "queued"
        followed = staff_client.get(f"/api/v1/analytics/runs/{body['id']}/").json()

    assert followed["state"] == "done"
    assert followed["progress"] == 1.0
    assert followed["error"] is None


def test_the_rooms_table_comes_from_the_latest_run(staff_client, history, django_capture_on_commit_callbacks):
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        assert staff_client.get("/api/v1/analytics/rooms/" + PERIOD).json()["code"] == "no_run"
        _start(staff_client, "cph", django_capture_on_commit_callbacks)
        body = staff_client.get("/api/v1/analytics/rooms/" + PERIOD).json()
        narrower = staff_client.get("/api/v1/analytics/rooms/?from=2026-03-03&to=2026-03-03").json()

    alpha = next(r for r in body["rooms"] if r["name"] == "Alpha")
    assert set(alpha) >= {
        "room", "name", "capacity", "bookable_h", "booked_h", "utilisation", "occupied_h", "occupancy",
        "no_show_rate", "ghost_h", "seat_utilisation", "lead_time_h", "preferred", "suppressed",
    }  # fmt: skip
    assert alpha["booked_h"] == 6.0
    assert alpha["bookable_h"] == 7 * 13.0
    assert {"peak_concurrency", "unmet_demand", "recommendations", "heatmap"} <= set(body)
    assert next(r for r in narrower["rooms"] if r["name"] == "Alpha")["bookable_h"] == 13.0


def test_the_csv_holds_the_same_rooms_table(staff_client, history, django_capture_on_commit_callbacks):
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        _start(staff_client, "cph", django_capture_on_commit_callbacks)
        response = staff_client.get("/api/v1/analytics/rooms.csv" + PERIOD)
        as_json = staff_client.get("/api/v1/analytics/rooms/" + PERIOD).json()["rooms"]

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["name"] for r in rows] == [r["name"] for r in as_json]
    alpha = next(r for r in rows if r["name"] == "Alpha")
    assert float(alpha["booked_h"]) == 6.0


def test_bad_periods_are_400(staff_client):
    assert staff_client.get("/api/v1/analytics/rooms/?from=2026-03-09&to=2026-03-02").status_code == 400
    assert staff_client.get("/api/v1/analytics/rooms/?from=yesterday").status_code == 400
    response = staff_client.post("/api/v1/analytics/runs/", {"from": "2020-01-01", "to": "2026-01-01"}, format="json")
    assert response.status_code == 400
    assert staff_client.post("/api/v1/analytics/runs/", {"from": "x"}, format="json").status_code == 400


def test_without_a_period_the_rooms_are_the_last_twelve_weeks_up_to_local_yesterday(staff_client, history):
    from analytics import tasks

    # 23:30 UTC on 9 March is already 10 March in Copenhagen: yesterday is the 9th there.
    with time_machine.travel(local(2026, 3, 10, 0, 30), tick=False):
        tasks.nightly.delay().get()
        body = staff_client.get("/api/v1/analytics/rooms/").json()

    assert (body["from"], body["to"]) == ("2025-12-16", "2026-03-09")
    assert next(r for r in body["rooms"] if r["name"] == "Alpha")["booked_h"] == 6.0
