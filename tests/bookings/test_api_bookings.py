"""POST/GET /api/v1/bookings/, GET/PATCH/DELETE /api/v1/bookings/{id}/, POST /api/v1/bookings/{id}/check-in/."""

from __future__ import annotations

import pytest

from bookings import services
from bookings.choices import BookingStatus
from bookings.models import Booking, BookingPolicy
from tests.bookings.conftest import local
from tests.bookings.factories import RoomFactory
from tests.factories import PersonFactory, SiteFactory

pytestmark = pytest.mark.usefixtures("frozen")

URL = "/api/v1/bookings/"


def _body(room, start="2026-03-03T10:00:00+01:00", end="2026-03-03T11:00:00+01:00", **extra):
    return {"room": room.pk, "start": start, "end": end, "title": "Planning", **extra}


def test_it_books_a_room(member_client, member, room):
    response = member_client.post(URL, _body(room, attendees=["Guest@Example.test"]), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["room"] == {"id": room.pk, "name": "Fjord"}
    assert body["desk"] is None
    assert body["start"] == "2026-03-03T10:00:00+01:00"
    assert body["end"] == "2026-03-03T11:00:00+01:00"
    assert body["timezone"] == "Europe/Copenhagen"
    assert body["status"] == "confirmed"
    assert body["source"] == "api"
    assert body["attendees"] == ["guest@example.test"]
    assert body["organiser"]["id"] == member.pk


def test_it_books_a_desk(member_client, desk):
    body = {"desk": desk.pk, "start": "2026-03-03T08:00:00Z", "end": "2026-03-03T16:00:00Z"}

    response = member_client.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["desk"] == {"id": desk.pk, "label": "N-01"}


def test_an_overlap_is_409_conflict_naming_the_interval(member_client, colleague_client, room):
    assert member_client.post(URL, _body(room), format="json").status_code == 201

    response = colleague_client.post(
        URL, _body(room, start="2026-03-03T09:30:00Z", end="2026-03-03T10:30:00Z"), format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert "2026-03-03 10:00-11:00" in body["detail"]
    assert body["conflicts"][0]["booking_start"] == "2026-03-03T10:00:00+01:00"


def test_a_refusal_is_logged_once_at_info_with_its_code_and_bad_input_stays_a_warning(
    member_client, colleague_client, room, caplog
):
    import logging

    assert member_client.post(URL, _body(room), format="json").status_code == 201
    caplog.set_level(logging.INFO)

    def answers_logged():  # (on PostgreSQL the service also notes which constraint refused the INSERT)
        return [
            (r.name, r.levelname, r.getMessage())
            for r in caplog.records
            if r.name in {"django.request", "labs.api.exceptions"}
        ]

    assert colleague_client.post(URL, _body(room), format="json").status_code == 409
    assert answers_logged() == [("labs.api.exceptions", "INFO", "POST /api/v1/bookings/: 409 conflict")]

    caplog.clear()
    assert colleague_client.post(URL, {"room": "x"}, format="json").status_code == 400
    assert answers_logged() == [("django.request", "WARNING", "Bad Request: /api/v1/bookings/")]


def test_back_to_back_over_the_api(member_client, colleague_client, room):
    assert member_client.post(URL, _body(room), format="json").status_code == 201
    later = _body(room, start="2026-03-03T11:00:00+01:00", end="2026-03-03T12:00:00+01:00")
    assert colleague_client.post(URL, later, format="json").status_code == 201


def test_a_broken_rule_is_422_naming_the_rule(member_client, room):
    BookingPolicy.objects.create(site=room.site, max_duration_minutes=60)

    response = member_client.post(URL, _body(room, end="2026-03-03T13:00:00+01:00"), format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "rule_violation"
    assert response.json()["rule"] == "max_duration"
    assert response.json()["detail"] == "A booking lasts at most 1 hour (2026-03-03 10:00)."
    danish = member_client.post(
        URL, _body(room, end="2026-03-03T13:00:00+01:00"), format="json", HTTP_ACCEPT_LANGUAGE="da"
    )
    assert danish.json()["detail"] == "En booking varer højst 1 time (2026-03-03 10:00)."  # the code stays English
    assert danish.json()["rule"] == "max_duration"


def test_a_conflict_and_bad_times_are_told_in_the_persons_language(member_client, colleague_client, room):
    assert member_client.post(URL, _body(room), format="json").status_code == 201

    response = colleague_client.post(URL, _body(room), format="json", HTTP_ACCEPT_LANGUAGE="da")

    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert response.json()["detail"] == "Det er allerede booket 2026-03-03 10:00-11:00 (Copenhagen-tid)."
    backwards = colleague_client.post(
        URL, _body(room, end="2026-03-03T09:00:00+01:00"), format="json", HTTP_ACCEPT_LANGUAGE="da"
    )
    assert backwards.status_code == 400
    assert backwards.json()["detail"] == "En booking skal slutte efter, den begynder."
    assert backwards.json()["end"] == ["Skal ligge efter starten."]


@pytest.mark.parametrize(
    "change",
    [
        {"start": "2026-03-03T10:00:00"},  # no offset
        {"start": "soon"},
        {"end": "2026-03-03T09:00:00+01:00"},  # ends before it starts
        {"room": 999999},
        {"room": None},
        {"attendees": ["nobody"]},
        {"attendees": "a@example.test"},
        {"recurrence": "FREQ=SECONDLY;COUNT=100000"},
        {"recurrence": "FREQ=DAILY"},
        {"organiser": 999999},
        {"title": "x" * 500},
    ],
)
def test_bad_input_is_400_never_500(member_client, room, change):
    body = {**_body(room), **change}
    if body.get("room") is None:
        body.pop("room")

    response = member_client.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


def test_room_and_desk_together_is_400(member_client, room, desk):
    assert member_client.post(URL, {**_body(room), "desk": desk.pk}, format="json").status_code == 400


def test_a_non_json_body_is_400(member_client):
    response = member_client.post(URL, "not json", content_type="application/json")
    assert response.status_code == 400


def test_a_recurring_booking_reports_its_occurrences(member_client, room):
    response = member_client.post(URL, _body(room, recurrence="FREQ=WEEKLY;COUNT=3"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["series"] is not None
    assert [o["start"] for o in body["occurrences"]] == [
        "2026-03-03T10:00:00+01:00",
        "2026-03-10T10:00:00+01:00",
        "2026-03-17T10:00:00+01:00",
    ]
    assert body["skipped"] == []


def test_a_recurring_booking_with_conflicts_lists_the_dates_or_skips_them(member_client, colleague, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 10, 10), end=local(2026, 3, 10, 11))

    refused = member_client.post(URL, _body(room, recurrence="FREQ=WEEKLY;COUNT=3"), format="json")
    assert refused.status_code == 409
    assert refused.json()["dates"] == ["2026-03-10"]

    skipped = member_client.post(URL, _body(room, recurrence="FREQ=WEEKLY;COUNT=3", skip_conflicts=True), format="json")
    assert skipped.status_code == 201
    assert skipped.json()["skipped"] == ["2026-03-10"]
    assert len(skipped.json()["occurrences"]) == 2


def test_staff_book_on_behalf_with_an_override(staff_client, member, room):
    BookingPolicy.objects.create(site=room.site, max_duration_minutes=60)
    body = _body(room, end="2026-03-03T13:00:00+01:00", organiser=member.pk, override_reason="All-hands")

    response = staff_client.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["organiser"]["id"] == member.pk
    assert response.json()["source"] == "staff"
    assert response.json()["override_reason"] == "All-hands"


def test_members_cannot_book_for_others_or_override(member_client, colleague, room):
    assert member_client.post(URL, _body(room, organiser=colleague.pk), format="json").status_code == 403
    assert member_client.post(URL, _body(room, override_reason="pls"), format="json").status_code == 403


@pytest.fixture
def booking(member, room):
    return services.booking_create(actor=member, room=room, start=local(2026, 3, 3, 10), end=local(2026, 3, 3, 11))


def test_the_list_shows_only_my_bookings(member_client, colleague, booking, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))

    body = member_client.get(URL).json()

    assert body["count"] == 1
    assert [b["id"] for b in body["results"]] == [booking.pk]
    assert set(body) == {"count", "next", "previous", "results"}


def test_staff_list_every_booking_of_their_site(staff_client, member, colleague, booking, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))
    elsewhere = SiteFactory(slug="aar")
    far = RoomFactory(site=elsewhere)
    stranger = PersonFactory(site=elsewhere)
    services.booking_create(actor=stranger, room=far, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))

    assert staff_client.get(URL).json()["count"] == 2


def test_the_list_filters_by_window_room_and_desk(member_client, member, booking, room, desk):
    services.booking_create(actor=member, desk=desk, start=local(2026, 3, 4, 9), end=local(2026, 3, 4, 17))

    def ids(params):
        response = member_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [b["id"] for b in response.json()["results"]]

    assert ids({"room": room.pk}) == [booking.pk]
    assert len(ids({"desk": desk.pk})) == 1
    assert ids({"start": "2026-03-03T10:30:00+01:00", "end": "2026-03-03T23:00:00+01:00"}) == [booking.pk]
    assert ids({"start": "2026-03-03T11:00:00+01:00", "end": "2026-03-03T23:00:00+01:00"}) == []
    assert member_client.get(URL, {"start": "2026-03-03T10:30:00"}).status_code == 400


def test_a_closed_day_is_422_naming_the_rule_and_the_day(member_client, room):
    from bookings.models import Closure

    Closure.objects.create(site=room.site, day=local(2026, 3, 3).date(), reason="Holiday")

    response = member_client.post(URL, _body(room), format="json")

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["rule"], body["days"]) == ("rule_violation", "closed", ["2026-03-03"])
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # 3 March 09:00 at UTC+14 is 2 March 19:00 UTC; 3 March 17:00 at UTC-11 is 4 March 04:00 UTC
        ("Pacific/Kiritimati", "2026-03-03T09:00:00+14:00", "2026-03-03T10:00:00+14:00"),
        ("Pacific/Pago_Pago", "2026-03-03T17:00:00-11:00", "2026-03-03T18:00:00-11:00"),
    ],
)
def test_a_closed_local_day_is_refused_however_far_the_site_is_from_utc(member_client, room, zone, start, end):
    from bookings.models import Closure

    room.site.timezone = zone
    room.site.save()
    Closure.objects.create(site=room.site, day=local(2026, 3, 2).date(), reason="Day before")
    Closure.objects.create(site=room.site, day=local(2026, 3, 4).date(), reason="Day after")

    assert member_client.post(URL, _body(room, start=start, end=end), format="json").status_code == 201

    Booking.objects.all().delete()
    Closure.objects.create(site=room.site, day=local(2026, 3, 3).date(), reason="Holiday")
    response = member_client.post(URL, _body(room, start=start, end=end), format="json")
    assert response.status_code == 422, response.content
    assert (response.json()["rule"], response.json()["days"]) == ("closed", ["2026-03-03"])


@pytest.mark.postgres
def test_on_postgresql_the_create_reads_the_closure_days_with_the_room(member_client, room):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = member_client.post(URL, _body(room), format="json")

    assert response.status_code == 201, response.content
    reads = [q["sql"] for q in queries.captured_queries if '"bookings_closure"' in q["sql"]]
    assert len(reads) == 1
    assert reads[0].startswith('SELECT "bookings_room"')


def test_the_list_query_count_does_not_grow_with_the_bookings(
    member_client, member, room, django_assert_max_num_queries
):
    for hour in range(7, 19):
        services.booking_create(actor=member, room=room, start=local(2026, 3, 5, hour), end=local(2026, 3, 5, hour, 30))
    # user + person (auth) + count + page with everything joined.
    with django_assert_max_num_queries(4):
        response = member_client.get(URL)
    assert response.json()["count"] == 12


def test_detail_for_the_organiser(member_client, booking):
    assert member_client.get(f"{URL}{booking.pk}/").json()["id"] == booking.pk


def test_patch_re_times_with_the_same_conflict_rules(member_client, colleague, booking, room):
    services.booking_create(actor=colleague, room=room, start=local(2026, 3, 3, 12), end=local(2026, 3, 3, 13))

    moved = member_client.patch(f"{URL}{booking.pk}/", {"end": "2026-03-03T12:00:00+01:00"}, format="json")
    assert moved.status_code == 200
    assert moved.json()["end"] == "2026-03-03T12:00:00+01:00"

    clash = member_client.patch(f"{URL}{booking.pk}/", {"end": "2026-03-03T12:30:00+01:00"}, format="json")
    assert clash.status_code == 409
    assert member_client.patch(f"{URL}{booking.pk}/", {"end": "2026-03-03T12:30:00"}, format="json").status_code == 400


def test_put_is_not_allowed(member_client, booking):
    assert member_client.put(f"{URL}{booking.pk}/", {}, format="json").status_code == 405


def test_delete_cancels(member_client, booking):
    assert member_client.delete(f"{URL}{booking.pk}/").status_code == 204
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert member_client.delete(f"{URL}{booking.pk}/").status_code == 204  # again: nothing more changes


def test_delete_with_a_scope_cancels_the_rest_of_a_series(member_client, room):
    created = member_client.post(URL, _body(room, recurrence="FREQ=WEEKLY;COUNT=4"), format="json").json()
    second = created["occurrences"][1]["id"]

    assert member_client.delete(f"{URL}{second}/?scope=following").status_code == 204
    statuses = list(
        Booking.objects.filter(series_id=created["series"]).order_by("start").values_list("status", flat=True)
    )
    assert statuses == ["confirmed", "cancelled", "cancelled", "cancelled"]
    assert member_client.delete(f"{URL}{second}/?scope=sideways").status_code == 400


def test_staff_may_cancel_a_members_booking(staff_client, booking):
    assert staff_client.delete(f"{URL}{booking.pk}/").status_code == 204


def test_check_in(member_client, booking, frozen):
    frozen.move_to(local(2026, 3, 3, 9, 50))

    response = member_client.post(f"{URL}{booking.pk}/check-in/")

    assert response.status_code == 200
    assert response.json()["status"] == "checked_in"
    assert response.json()["checked_in_at"] == "2026-03-03T09:50:00+01:00"


def test_check_in_too_early_is_422(member_client, booking):
    response = member_client.post(f"{URL}{booking.pk}/check-in/")
    assert response.status_code == 422
    assert response.json()["rule"] == "check_in_window"
    danish = member_client.post(f"{URL}{booking.pk}/check-in/", HTTP_ACCEPT_LANGUAGE="da")
    assert (
        danish.json()["detail"].startswith("Check-in åbner ")
        and "minutter før bookingen begynder." in danish.json()["detail"]
    )


def test_an_attendee_checks_in_but_cannot_see_or_change_the_booking(member, room, frozen):
    from rest_framework.test import APIClient

    guest = PersonFactory(user__email="guest@example.test", site=member.site)
    booking = services.booking_create(
        actor=member,
        room=room,
        start=local(2026, 3, 3, 10),
        end=local(2026, 3, 3, 11),
        attendees=["guest@example.test"],
    )
    client = APIClient()
    client.force_authenticate(guest.user)
    frozen.move_to(local(2026, 3, 3, 10))

    assert client.post(f"{URL}{booking.pk}/check-in/").status_code == 200
    assert client.get(f"{URL}{booking.pk}/").status_code == 404
    assert client.delete(f"{URL}{booking.pk}/").status_code == 404


# --- The outsider (another company) and the colleague (same company, not the organiser) --------------------------


@pytest.mark.parametrize("persona", ["outsider_client", "colleague_client"])
def test_others_get_404_on_every_booking_endpoint(request, booking, persona, frozen):
    client = request.getfixturevalue(persona)
    frozen.move_to(local(2026, 3, 3, 10))
    detail = f"{URL}{booking.pk}/"

    assert client.get(detail).status_code == 404
    assert client.patch(detail, {"title": "mine now"}, format="json").status_code == 404
    assert client.delete(detail).status_code == 404
    assert client.post(f"{detail}check-in/").status_code == 404
    assert client.get(URL).json()["count"] == 0
    assert client.get(URL, {"room": booking.room_id}).json()["count"] == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.title == ""


def test_an_unknown_booking_is_404_like_anothers(member_client):
    assert member_client.get(f"{URL}999999/").status_code == 404
    assert member_client.post(f"{URL}999999/check-in/").status_code == 404


def test_anonymous_callers_are_refused(anon_client, booking, room):
    assert anon_client.get(URL).status_code in {401, 403}
    assert anon_client.post(URL, _body(room), format="json").status_code in {401, 403}
    assert anon_client.get(f"{URL}{booking.pk}/").status_code in {401, 403}
    assert anon_client.post(f"{URL}{booking.pk}/check-in/").status_code in {401, 403}
