"""Importing history: CSV and iCalendar, all or nothing, malformed files named by line, overlaps skipped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings import services
from bookings.choices import BookingSource, BookingStatus
from bookings.models import Booking
from labs.errors import Conflict
from tests.bookings.conftest import local
from tests.bookings.factories import RoomFactory

pytestmark = pytest.mark.django_db

HEADER = "room,start,end,organiser_email,attendees,status,checked_in_at,created_at\n"


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


@pytest.fixture
def organiser(member):
    member.user.email = "maja@example.test"
    member.user.save()
    return member


def test_a_csv_is_imported_with_statuses_counts_and_moments(frozen, site, room, organiser):
    content = _csv(
        "Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,3,completed,"
        "2026-02-02T09:04:00+01:00,2026-01-30T12:00:00+01:00",
        "fjord,2026-02-03T09:00:00+01:00,2026-02-03T10:00:00+01:00,MAJA@example.test,0,no_show,,",
        "Fjord,2026-02-04T09:00:00+01:00,2026-02-04T10:00:00+01:00,maja@example.test,1,cancelled,,",
    )

    result = services.bookings_import(site=site, content=content, content_type="text/csv")

    assert (result.imported, result.skipped) == (3, [])
    done, no_show, cancelled = Booking.objects.order_by("start")
    assert done.status == BookingStatus.COMPLETED
    assert done.attendee_count == 3
    assert done.checked_in_at == local(2026, 2, 2, 9, 4)
    assert done.created_at == local(2026, 1, 30, 12)
    assert done.source == BookingSource.IMPORT
    assert no_show.status == BookingStatus.RELEASED
    assert no_show.released_at == local(2026, 2, 3, 9, 10)  # the start plus the site's grace
    assert cancelled.status == BookingStatus.CANCELLED


def test_overlapping_rows_are_skipped_with_their_line(frozen, site, room, organiser):
    Booking.objects.create(
        site=site, room=room, organiser=organiser, start=local(2026, 2, 2, 9), end=local(2026, 2, 2, 10),
        hold_end=local(2026, 2, 2, 10), status=BookingStatus.COMPLETED,
    )  # fmt: skip
    content = _csv(
        "Fjord,2026-02-02T09:30:00+01:00,2026-02-02T10:30:00+01:00,maja@example.test,0,completed,,",  # line 2
        "Fjord,2026-02-02T11:00:00+01:00,2026-02-02T12:00:00+01:00,maja@example.test,0,completed,,",  # line 3
        "Fjord,2026-02-02T11:30:00+01:00,2026-02-02T12:30:00+01:00,maja@example.test,0,completed,,",  # line 4
        "Fjord,2026-02-02T11:30:00+01:00,2026-02-02T12:30:00+01:00,maja@example.test,0,no_show,,",  # line 5
        "Nowhere,2026-02-02T11:30:00+01:00,2026-02-02T12:30:00+01:00,maja@example.test,0,completed,,",  # line 6
        "Fjord,2026-02-05T11:30:00+01:00,2026-02-05T12:30:00+01:00,nobody@example.test,0,completed,,",  # line 7
    )

    result = services.bookings_import(site=site, content=content, content_type="text/csv")

    assert result.imported == 2  # line 3, and line 5 (a no-show holds nothing)
    assert [(s["line"], s["code"]) for s in result.skipped] == [
        (2, "overlap"),
        (4, "overlap"),
        (6, "unknown_room"),
        (7, "unknown_organiser"),
    ]


@pytest.mark.parametrize(
    ("rows", "line", "words"),
    [
        (["Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,0,done,,"], 2, "status"),
        (["Fjord,2026-02-02T09:00:00,2026-02-02T10:00:00+01:00,maja@example.test,0,completed,,"], 2, "offset"),
        (
            [
                "Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,0,completed,,",
                "Fjord,2026-02-03T09:00:00+01:00,2026-02-03T08:00:00+01:00,maja@example.test,0,completed,,",
            ],
            3,
            "end",
        ),
        (
            ["Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,many,completed,,"],
            2,
            "attendees",
        ),
        (["Fjord,2026-02-02T09:00:00+01:00"], 2, "fields"),
        # digits int() refuses: a superscript, and more than Python's 4,300 (a 500 before labs.validators.ascii_int)
        (["Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,²,completed,,"], 2, "attendees"),
        (
            [f"Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,{'9' * 5000},completed,,"],
            2,
            "attendees",
        ),
    ],
)
def test_a_malformed_file_names_its_line_and_imports_nothing(frozen, site, room, organiser, rows, line, words):
    with pytest.raises(services.ImportMalformed) as caught:
        services.bookings_import(site=site, content=_csv(*rows), content_type="text/csv")

    assert caught.value.extra["line"] == line
    assert f"Line {line}:" in caught.value.detail
    assert words in caught.value.detail
    assert Booking.objects.count() == 0


def test_a_header_without_a_column_is_line_1(frozen, site, room):
    with pytest.raises(services.ImportMalformed) as caught:
        services.bookings_import(site=site, content=b"room,start,end\n", content_type="text/csv")
    assert caught.value.extra["line"] == 1


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Elsewhere//EN
BEGIN:VEVENT
UID:1@elsewhere
DTSTART;TZID=Europe/Copenhagen:20260202T090000
DTEND;TZID=Europe/Copenhagen:20260202T100000
LOCATION:Fjord
ORGANIZER:mailto:maja@example.test
ATTENDEE:mailto:a@example.test
ATTENDEE:mailto:b@example.test
CREATED:20260130T110000Z
X-LABS-CHECKED-IN-AT:20260202T080200Z
END:VEVENT
BEGIN:VEVENT
UID:2@elsewhere
DTSTART:20260203T080000Z
DTEND:20260203T090000Z
LOCATION:Fjord
ORGANIZER:mailto:maja@example.test
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR
"""


def test_an_icalendar_file_is_imported(frozen, site, room, organiser):
    result = services.bookings_import(site=site, content=ICS.encode(), content_type="text/calendar")

    assert result.imported == 2
    first, second = Booking.objects.order_by("start")
    assert first.start == local(2026, 2, 2, 9)
    assert first.attendee_count == 2
    assert first.checked_in_at == local(2026, 2, 2, 9, 2)
    assert first.status == BookingStatus.COMPLETED
    assert second.status == BookingStatus.CANCELLED


def test_a_malformed_icalendar_event_names_the_line(frozen, site, room, organiser):
    broken = ICS.replace("DTEND:20260203T090000Z", "DTEND:tomorrow")
    with pytest.raises(services.ImportMalformed) as caught:
        services.bookings_import(site=site, content=broken.encode(), content_type="text/calendar")
    assert caught.value.extra["line"] == 18
    assert Booking.objects.count() == 0


def _many(rooms, count: int) -> bytes:
    lines = [HEADER]
    start = local(2025, 6, 2, 8)
    for i in range(count):
        room = rooms[i % len(rooms)]
        s = start + timedelta(hours=i // len(rooms))
        lines.append(
            f"{room.name},{s.isoformat()},{(s + timedelta(minutes=45)).isoformat()},maja@example.test,1,completed,,\n"
        )
    return "".join(lines).encode()


def test_a_large_import_costs_queries_per_batch_not_per_row(
    frozen, site, room, organiser, django_assert_max_num_queries
):
    """6,000 rows in a bounded number of statements (bulk inserts), so the import's speed follows the database's bulk
    rate; the rate itself is a benchmark's business (bench/analytics.py imports its history the same way)."""
    rooms = [room, *(RoomFactory(site=site, floor=room.floor, name=f"R{i}") for i in range(9))]
    content = _many(rooms, 6000)

    with django_assert_max_num_queries(30):
        result = services.bookings_import(site=site, content=content, content_type="text/csv")

    assert result.imported == 6000
    assert Booking.objects.filter(site=site).count() == 6000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_exclusion_constraint_still_holds_and_nothing_is_imported(site, room, organiser, monkeypatch):
    """A held booking inserted between the check and the insert: the constraint refuses, nothing is imported."""
    from bookings.services import imports

    real = imports._overlaps

    def sneak(intervals, start, end):
        if not Booking.objects.exists():
            Booking.objects.create(
                site=site, room=room, organiser=organiser, start=start, end=end, hold_end=end,
                status=BookingStatus.COMPLETED,
            )  # fmt: skip
        return real(intervals, start, end)

    monkeypatch.setattr(imports, "_overlaps", sneak)
    content = _csv(
        "Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,0,completed,,",
        "Fjord,2026-02-02T11:00:00+01:00,2026-02-02T12:00:00+01:00,maja@example.test,0,completed,,",
    )
    with pytest.raises(Conflict):
        services.bookings_import(site=site, content=content, content_type="text/csv", now=local(2026, 3, 1))
    assert Booking.objects.count() == 1  # only the sneaked one


def test_the_api_imports_for_staff_and_refuses_members(frozen, site, room, organiser, staff_client, member_client):
    content = _csv("Fjord,2026-02-02T09:00:00+01:00,2026-02-02T10:00:00+01:00,maja@example.test,0,completed,,")

    refused = member_client.post("/api/v1/bookings/import/", content, content_type="text/csv")
    done = staff_client.post("/api/v1/bookings/import/", content, content_type="text/csv")
    again = staff_client.post("/api/v1/bookings/import/", content, content_type="text/csv")

    assert refused.status_code == 403
    assert done.status_code == 200
    assert done.json() == {"imported": 1, "skipped": []}
    assert again.json()["skipped"][0]["code"] == "overlap"


def test_the_api_answers_400_naming_the_line_of_a_malformed_file(frozen, site, room, organiser, staff_client):
    content = _csv("Fjord,2026-02-02T09:00:00+01:00,not a date,maja@example.test,0,completed,,")

    response = staff_client.post("/api/v1/bookings/import/", content, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert response.json()["line"] == 2
    assert staff_client.post("/api/v1/bookings/import/", b"{}", content_type="application/json").status_code == 415
    assert (
        staff_client.post("/api/v1/bookings/import/?site=elsewhere", content, content_type="text/csv").status_code
        == 404
    )
