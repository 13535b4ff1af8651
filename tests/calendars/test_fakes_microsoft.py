"""The fake Microsoft identity platform and Graph behave as Microsoft documents, for the real msal and requests.

These tests need no database: they drive the fake with the client libraries the adapter uses, as a sanity check that
the fake is faithful enough for the adapter's tests to mean something.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from calendars.fakes.microsoft import FakeMicrosoft

ROOM = "room-fjord@contoso.test"
OTHER_ROOM = "room-havn@contoso.test"
SERVICE = "bookings@contoso.test"
PROPERTY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name labs.bookingId"
SCOPES = ["https://graph.microsoft.com/.default"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with FakeMicrosoft(state_dir=tmp_path_factory.mktemp("fake-ms")) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.add_room(ROOM, "Fjord", capacity=6, building="HQ", floor=1)
    server.add_room(OTHER_ROOM, "Havn", capacity=10, building="HQ", floor=2)
    server.add_user(SERVICE, "Labs bookings")
    server.add_user("alice@contoso.test", "Alice Jensen")
    server.add_user("bob@contoso.test", "Bob Berg")
    return server


@pytest.fixture
def session(fake):
    session = requests.Session()
    session.trust_env = False
    session.verify = fake.ca_bundle
    return session


@pytest.fixture
def graph(fake, session):
    """A tiny Graph client: msal for the token, requests for the calls, UTC and a page size preferred."""
    app = msal.ConfidentialClientApplication(
        fake.client_id,
        client_credential=fake.client_secret,
        authority=f"{fake.authority_host}/{fake.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )
    token = app.acquire_token_for_client(scopes=SCOPES)["access_token"]

    def call(method, path, *, page_size=50, time_zone="UTC", **kwargs):
        url = path if path.startswith("https://") else f"{fake.graph_endpoint}{path}"
        headers = {
            "Authorization": f"Bearer {token}",
            "Prefer": f'outlook.timezone="{time_zone}", odata.maxpagesize={page_size}',
        }
        return session.request(method, url, headers=headers, timeout=10, **kwargs)

    return call


def hour(days=0, hours=0):
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    return base + timedelta(days=days, hours=hours)


def window():
    lo, hi = hour(-2), hour(180)
    return f"startDateTime={lo:%Y-%m-%dT%H:%M:%SZ}&endDateTime={hi:%Y-%m-%dT%H:%M:%SZ}"


def delta_round(graph, url, **kwargs):
    """Follow nextLinks to the deltaLink: (items, deltaLink, requests made)."""
    items, made = [], 0
    while True:
        response = graph("GET", url, **kwargs)
        made += 1
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"], made
        url = body["@odata.nextLink"]


def full_sync(graph, room=ROOM, **kwargs):
    return delta_round(graph, f"/users/{room}/calendarView/delta?{window()}", **kwargs)


# --- identity -----------------------------------------------------------------------------------------------


def test_msal_gets_a_token_over_tls_from_the_fake_and_then_uses_its_cache(fake, session):
    app = msal.ConfidentialClientApplication(
        fake.client_id,
        client_credential=fake.client_secret,
        authority=f"{fake.authority_host}/{fake.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )

    first = app.acquire_token_for_client(scopes=SCOPES)
    second = app.acquire_token_for_client(scopes=SCOPES)

    assert first["token_type"] == "Bearer" and first["access_token"]
    assert second["access_token"] == first["access_token"]
    assert second["token_source"] == "cache"
    assert fake.counts() == {"openid-configuration": 1, "token": 1}


def test_a_wrong_secret_is_invalid_client_with_the_aadsts_code(fake, session):
    app = msal.ConfidentialClientApplication(
        fake.client_id,
        client_credential="not-the-secret",
        authority=f"{fake.authority_host}/{fake.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )

    result = app.acquire_token_for_client(scopes=SCOPES)

    assert result["error"] == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]


def test_an_unknown_tenant_fails_msal_discovery(fake, session):
    with pytest.raises(ValueError, match="tenant"):
        msal.ConfidentialClientApplication(
            fake.client_id,
            client_credential=fake.client_secret,
            authority=f"{fake.authority_host}/no-such-tenant",
            instance_discovery=False,
            http_client=session,
        )


def test_a_client_that_does_not_trust_the_test_ca_is_refused(fake):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fake.authority_host}/{fake.tenant_id}/v2.0/.well-known/openid-configuration", timeout=5)


def test_graph_refuses_a_missing_or_revoked_token(fake, graph, session):
    assert session.get(f"{fake.graph_endpoint}/places/microsoft.graph.room").status_code == 401
    fake.expire_access_tokens()
    response = graph("GET", "/places/microsoft.graph.room")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


# --- rooms and the room mailbox's processing ---------------------------------------------------------------


def test_places_lists_the_tenants_rooms_with_capacity_building_and_floor(fake, graph):
    rooms = graph("GET", "/places/microsoft.graph.room").json()["value"]

    assert [(r["emailAddress"], r["displayName"], r["capacity"], r["building"], r["floorNumber"]) for r in rooms] == [
        (ROOM, "Fjord", 6, "HQ", 1),
        (OTHER_ROOM, "Havn", 10, "HQ", 2),
    ]


def test_the_room_accepts_a_meeting_and_rewrites_its_copy(fake, graph):
    created = graph(
        "POST",
        f"/users/{SERVICE}/events",
        json={
            "subject": "Board meeting",
            "body": {"contentType": "text", "content": "secret agenda"},
            "start": {"dateTime": f"{hour(hours=9):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "end": {"dateTime": f"{hour(hours=10):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": ROOM, "name": "Fjord"}, "type": "resource"}],
            "singleValueExtendedProperties": [{"id": PROPERTY, "value": "42"}],
        },
    )
    assert created.status_code == 201, created.text
    mine = graph("GET", f"/users/{SERVICE}/events/{created.json()['id']}").json()

    items, _link, _made = full_sync(graph)

    assert mine["attendees"][0]["status"]["response"] == "accepted"
    [copy] = items
    assert copy["iCalUId"] == created.json()["iCalUId"]
    assert copy["id"] != created.json()["id"]
    assert copy["subject"] == "Labs bookings"  # the organiser's name, not the subject
    assert copy["body"]["content"] == ""
    assert copy["organizer"]["emailAddress"]["address"] == SERVICE
    expanded = graph(
        "GET", f"/users/{ROOM}/events/{copy['id']}?$expand=singleValueExtendedProperties($filter=id eq '{PROPERTY}')"
    ).json()
    assert "singleValueExtendedProperties" not in expanded


def test_the_organisers_copy_keeps_the_extended_property_and_can_be_found_by_it(fake, graph):
    created = graph(
        "POST",
        f"/users/{SERVICE}/events",
        json={
            "subject": "Mine",
            "start": {"dateTime": f"{hour(hours=9):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "end": {"dateTime": f"{hour(hours=10):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "singleValueExtendedProperties": [{"id": PROPERTY, "value": "42"}],
        },
    ).json()

    expanded = graph(
        "GET",
        f"/users/{SERVICE}/events/{created['id']}?$expand=singleValueExtendedProperties($filter=id eq '{PROPERTY}')",
    ).json()
    found = graph(
        "GET",
        f"/users/{SERVICE}/events?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY}'"
        " and ep/value eq '42')",
    ).json()["value"]
    by_uid = graph("GET", f"/users/{SERVICE}/events?$filter=iCalUId eq '{created['iCalUId']}'").json()["value"]

    assert expanded["singleValueExtendedProperties"] == [{"id": PROPERTY, "value": "42"}]
    assert [e["id"] for e in found] == [created["id"]] == [e["id"] for e in by_uid]


def test_a_transaction_id_makes_a_retried_create_return_the_same_event(fake, graph):
    body = {
        "subject": "Retried",
        "transactionId": "labs-booking-42",
        "start": {"dateTime": f"{hour(hours=9):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "end": {"dateTime": f"{hour(hours=10):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": ROOM}, "type": "resource"}],
    }

    first = graph("POST", f"/users/{SERVICE}/events", json=body).json()
    second = graph("POST", f"/users/{SERVICE}/events", json=body).json()

    assert first["id"] == second["id"]
    assert len(fake.calendar_view(ROOM, hour(-1), hour(2))) == 1


def test_the_room_declines_a_meeting_that_overlaps_its_calendar(fake):
    fake.outlook_create("alice@contoso.test", subject="First", start=hour(hours=9), end=hour(hours=10), rooms=[ROOM])
    late = fake.outlook_create(
        "bob@contoso.test", subject="Second", start=hour(hours=9, days=0) + timedelta(minutes=30), end=hour(hours=11),
        rooms=[ROOM],
    )  # fmt: skip

    assert fake.room_copy(ROOM, late.ical_uid) is None
    assert late.attendees[0]["response"] == "declined"
    assert fake.responses[-1]["response"] == "declined"
    assert [i.subject for i in fake.calendar_view(ROOM, hour(-1), hour(2))] == ["Alice Jensen"]


def test_writing_straight_into_the_room_mailbox_bypasses_its_conflict_check(fake, graph):
    fake.outlook_create("alice@contoso.test", subject="First", start=hour(hours=9), end=hour(hours=10), rooms=[ROOM])

    response = graph(
        "POST",
        f"/users/{ROOM}/events",
        json={
            "subject": "Direct",
            "start": {"dateTime": f"{hour(hours=9):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
            "end": {"dateTime": f"{hour(hours=10):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        },
    )

    assert response.status_code == 201
    assert len(fake.calendar_view(ROOM, hour(-1), hour(2))) == 2


def test_the_room_mailbox_declines_with_a_comment_and_the_meeting_leaves_its_calendar(fake, graph):
    meeting = fake.outlook_create(
        "alice@contoso.test", subject="Planning", start=hour(hours=9), end=hour(hours=10), rooms=[ROOM]
    )
    copy = fake.room_copy(ROOM, meeting.ical_uid)

    response = graph(
        "POST",
        f"/users/{ROOM}/events/{copy.id}/decline",
        json={"comment": "Fjord is booked at that time (booking 7).", "sendResponse": True},
    )

    assert response.status_code == 202
    assert fake.room_copy(ROOM, meeting.ical_uid) is None
    assert meeting.attendees[0]["response"] == "declined"
    assert fake.responses[-1] | {"at": None} == {
        "room": ROOM,
        "iCalUId": meeting.ical_uid,
        "organizer": "alice@contoso.test",
        "response": "declined",
        "comment": "Fjord is booked at that time (booking 7).",
        "instance": None,
        "at": None,
    }


# --- delta ---------------------------------------------------------------------------------------------------


def test_a_full_delta_sync_pages_by_the_preferred_size_and_ends_on_a_delta_link(fake, graph):
    for day in range(5):
        fake.outlook_create(
            "alice@contoso.test", subject=f"M{day}", start=hour(day, 9), end=hour(day, 10), rooms=[ROOM]
        )

    items, link, made = full_sync(graph, page_size=2)

    assert made == 3
    assert len(items) == 5
    assert "$deltatoken=" in link and "startDateTime" not in link


def test_an_unchanged_calendar_costs_one_request(fake, graph):
    fake.outlook_create("alice@contoso.test", subject="M", start=hour(0, 9), end=hour(0, 10), rooms=[ROOM])
    _items, link, _made = full_sync(graph)
    before = fake.count("calendarView.delta")

    items, link, made = delta_round(graph, link)

    assert (items, made) == ([], 1)
    assert fake.count("calendarView.delta") == before + 1


def test_delta_reports_creates_moves_and_cancellations_as_changes_only(fake, graph):
    kept = fake.outlook_create("alice@contoso.test", subject="Kept", start=hour(0, 9), end=hour(0, 10), rooms=[ROOM])
    moved = fake.outlook_create("bob@contoso.test", subject="Moved", start=hour(1, 9), end=hour(1, 10), rooms=[ROOM])
    gone = fake.outlook_create("bob@contoso.test", subject="Gone", start=hour(2, 9), end=hour(2, 10), rooms=[ROOM])
    _items, link, _made = full_sync(graph)
    moved_copy, gone_copy = fake.room_copy(ROOM, moved.ical_uid), fake.room_copy(ROOM, gone.ical_uid)

    fake.outlook_move("bob@contoso.test", moved.id, start=hour(1, 13), end=hour(1, 14))
    fake.outlook_cancel("bob@contoso.test", gone.id)
    fresh = fake.outlook_create("alice@contoso.test", subject="New", start=hour(3, 9), end=hour(3, 10), rooms=[ROOM])
    items, _link, _made = delta_round(graph, link)

    changed = {i["id"]: i for i in items}
    assert changed[moved_copy.id]["start"] == {
        "dateTime": f"{hour(1, 13):%Y-%m-%dT%H:%M:%S}.0000000",
        "timeZone": "UTC",
    }
    assert changed[gone_copy.id]["@removed"] == {"reason": "deleted"}
    assert fake.room_copy(ROOM, fresh.ical_uid).id in changed
    assert fake.room_copy(ROOM, kept.ical_uid).id not in changed
    assert len(items) == 3


def test_a_series_shows_occurrences_and_exceptions_never_its_master(fake, graph):
    series = fake.outlook_create(
        "alice@contoso.test",
        subject="Stand-up",
        start=hour(0, 8),
        end=hour(0, 8) + timedelta(minutes=30),
        rooms=[ROOM],
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 4},
        },
    )
    fake.outlook_cancel_occurrence("alice@contoso.test", series.id, hour(1, 8))
    fake.outlook_move_occurrence(
        "alice@contoso.test", series.id, hour(2, 8), start=hour(2, 15), end=hour(2, 15) + timedelta(minutes=30)
    )

    items, _link, _made = full_sync(graph)

    copy = fake.room_copy(ROOM, series.ical_uid)
    assert [(i["type"], i["start"]["dateTime"][:16]) for i in items] == [
        ("occurrence", f"{hour(0, 8):%Y-%m-%dT%H:%M}"),
        ("exception", f"{hour(2, 15):%Y-%m-%dT%H:%M}"),
        ("occurrence", f"{hour(3, 8):%Y-%m-%dT%H:%M}"),
    ]
    assert {i["seriesMasterId"] for i in items} == {copy.id}
    assert items[1]["originalStart"].startswith(f"{hour(2, 8):%Y-%m-%dT%H:%M}")
    master = graph("GET", f"/users/{ROOM}/events/{copy.id}").json()
    assert master["type"] == "seriesMaster" and master["recurrence"]["pattern"]["type"] == "daily"


def test_cancelling_one_occurrence_later_is_a_removed_item(fake, graph):
    series = fake.outlook_create(
        "alice@contoso.test",
        subject="Weekly",
        start=hour(0, 8),
        end=hour(0, 9),
        rooms=[ROOM],
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 3},
        },
    )
    items, link, _made = full_sync(graph)

    fake.outlook_cancel_occurrence("alice@contoso.test", series.id, hour(1, 8))
    changes, _link, _made = delta_round(graph, link)

    assert changes == [
        {"@odata.type": "#microsoft.graph.event", "id": items[1]["id"], "@removed": {"reason": "deleted"}}
    ]


def test_a_series_in_a_windows_zone_keeps_its_local_time_across_daylight_saving(fake, graph):
    # 2026-10-25 ends summer time in Europe: 09:00 in Copenhagen is 07:00 UTC before and 08:00 UTC after.
    start = datetime(2026, 10, 23, 7, 0, tzinfo=UTC)
    fake.outlook_create(
        "alice@contoso.test",
        subject="Local",
        start=start,
        end=start + timedelta(hours=1),
        rooms=[ROOM],
        time_zone="Romance Standard Time",
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 4},
        },
    )

    found = fake.calendar_view(ROOM, datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 28, tzinfo=UTC))

    assert [i.start.hour for i in found] == [7, 7, 8, 8]


def test_times_come_in_the_preferred_zone_and_keep_the_windows_zone_name(fake, graph):
    fake.outlook_create(
        "alice@contoso.test",
        subject="Pacific",
        start=hour(0, 17),
        end=hour(0, 18),
        rooms=[ROOM],
        time_zone="Pacific Standard Time",
    )

    [utc] = full_sync(graph)[0]
    [local] = full_sync(graph, time_zone="Pacific Standard Time")[0]

    assert utc["start"]["timeZone"] == "UTC"
    assert utc["originalStartTimeZone"] == "Pacific Standard Time"
    assert local["start"]["timeZone"] == "America/Los_Angeles"
    assert local["start"]["dateTime"] != utc["start"]["dateTime"]


def test_an_expired_or_unknown_delta_token_is_410_sync_state_not_found(fake, graph):
    _items, link, _made = full_sync(graph)
    fake.expire_delta_tokens(ROOM)

    response = graph("GET", link)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "syncStateNotFound"


def test_a_delta_token_is_bound_to_its_mailbox_and_window(fake, graph):
    _items, link, _made = full_sync(graph)

    other = graph("GET", link.replace(ROOM, OTHER_ROOM))
    shifted = graph("GET", f"{link}&startDateTime=2020-01-01T00:00:00Z")

    assert other.status_code == 410
    assert shifted.status_code == 400


def test_replayed_changes_arrive_twice(fake, graph):
    _items, link, _made = full_sync(graph)
    fake.replay_changes = True
    fake.outlook_create("alice@contoso.test", subject="Once", start=hour(0, 9), end=hour(0, 10), rooms=[ROOM])

    items, link, _made = delta_round(graph, link)
    again, _link, _made = delta_round(graph, link)

    assert len(items) == 2 and items[0] == items[1]
    assert [i["id"] for i in again] == [items[0]["id"]]


def test_delta_takes_no_filter_or_select(fake, graph):
    response = graph("GET", f"/users/{ROOM}/calendarView/delta?{window()}&$select=subject")
    assert response.status_code == 400


# --- throttling and failures ---------------------------------------------------------------------------------


def test_an_injected_throttle_is_a_429_with_retry_after_then_clears(fake, graph):
    fake.throttle(times=1, retry_after=3, mailbox=ROOM)

    first = graph("GET", f"/users/{ROOM}/calendarView/delta?{window()}")
    other = graph("GET", f"/users/{OTHER_ROOM}/calendarView/delta?{window()}")
    second = graph("GET", f"/users/{ROOM}/calendarView/delta?{window()}")

    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert other.status_code == 200 and second.status_code == 200


def test_more_than_four_concurrent_requests_on_one_mailbox_are_throttled(fake, graph):
    fake.latency = 0.3
    results = []

    def call():
        results.append(graph("GET", f"/users/{ROOM}").status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        fake.latency = 0

    assert sorted(results) == [200, 200, 200, 200, 429, 429]
    assert fake.max_inflight[ROOM] == 4


def test_a_failing_mailbox_fails_alone(fake, graph):
    fake.fail_mailbox(ROOM)

    assert graph("GET", f"/users/{ROOM}").status_code == 503
    assert graph("GET", f"/users/{OTHER_ROOM}").status_code == 200


def test_requests_are_counted_per_route_and_mailbox(fake, graph):
    full_sync(graph)
    full_sync(graph, room=OTHER_ROOM)
    graph("GET", "/places/microsoft.graph.room")

    assert fake.count("calendarView.delta") == 2
    assert fake.count("calendarView.delta", mailbox=ROOM) == 1
    assert fake.count("places.rooms", method="GET") == 1


# --- subscriptions and notifications -------------------------------------------------------------------------


class Receiver:
    """A project stand-in: echoes validation tokens (unless told not to) and records what Graph POSTs."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.echo = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = parse_qs(parts.query).get("validationToken")
                if token:
                    answer = (token[0] if receiver.echo else "nope").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                receiver.received.append((parts.path, json.loads(body)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def subscribe(graph, receiver, room=ROOM, **overrides):
    body = {
        "changeType": "created,updated,deleted",
        "resource": f"/users/{room}/events",
        "notificationUrl": f"{receiver.base}/notifications",
        "lifecycleNotificationUrl": f"{receiver.base}/lifecycle",
        "clientState": "s3cret",
        "expirationDateTime": f"{datetime.now(UTC) + timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}",
        **overrides,
    }
    return graph("POST", "/subscriptions", json=body)


def test_a_subscription_is_created_after_both_urls_echo_the_validation_token(fake, graph, receiver):
    response = subscribe(graph, receiver)

    assert response.status_code == 201, response.text
    assert [d.kind for d in fake.deliveries] == ["validation", "validation"]
    assert response.json()["clientState"] == "s3cret"
    assert response.json()["expirationDateTime"].startswith(f"{datetime.now(UTC) + timedelta(days=3):%Y-%m-%d}")


def test_a_subscription_is_refused_when_the_endpoint_does_not_echo_the_token(fake, graph, receiver):
    receiver.echo = False

    response = subscribe(graph, receiver)

    assert response.status_code == 400
    assert "validation" in response.json()["error"]["message"]
    assert fake.subscriptions == {}


def test_a_subscription_is_refused_when_the_endpoint_is_too_slow(fake, graph, receiver, monkeypatch):
    monkeypatch.setattr(fake, "validation_timeout", 0.2)

    def slow(url, *, body, content_type, timeout):
        time.sleep(0.3)
        raise requests.exceptions.ReadTimeout("too slow")

    monkeypatch.setattr(fake, "transport", slow)

    assert subscribe(graph, receiver).status_code == 400


def test_expiration_beyond_the_maximum_and_client_state_beyond_128_are_refused(fake, graph, receiver):
    far = f"{datetime.now(UTC) + timedelta(days=8):%Y-%m-%dT%H:%M:%SZ}"

    assert subscribe(graph, receiver, expirationDateTime=far).status_code == 400
    assert subscribe(graph, receiver, clientState="x" * 129).status_code == 400


def test_changes_to_the_room_calendar_are_notified_with_the_client_state(fake, graph, receiver):
    subscription = subscribe(graph, receiver).json()

    meeting = fake.outlook_create(
        "alice@contoso.test", subject="M", start=hour(0, 9), end=hour(0, 10), rooms=[ROOM, OTHER_ROOM]
    )
    fake.deliver()

    [(path, body)] = receiver.received
    [item] = body["value"]
    copy = fake.room_copy(ROOM, meeting.ical_uid)
    assert path == "/notifications"
    assert item["subscriptionId"] == subscription["id"]
    assert item["clientState"] == "s3cret"
    assert item["changeType"] == "created"
    assert item["resource"] == f"Users/{fake.mailbox(ROOM).id}/Events/{copy.id}"
    assert item["resourceData"]["id"] == copy.id
    assert fake.deliveries[-1].status == 202


def test_renewing_moves_the_expiration_and_an_expired_subscription_is_gone(fake, graph, receiver):
    subscription = subscribe(graph, receiver).json()
    later = f"{datetime.now(UTC) + timedelta(days=6):%Y-%m-%dT%H:%M:%SZ}"

    renewed = graph("PATCH", f"/subscriptions/{subscription['id']}", json={"expirationDateTime": later})
    fake.expire_subscription(subscription["id"])
    gone = graph("PATCH", f"/subscriptions/{subscription['id']}", json={"expirationDateTime": later})

    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"].startswith(later[:10])
    assert gone.status_code == 404


def test_lifecycle_notifications_go_to_the_lifecycle_url_and_removed_drops_the_subscription(fake, graph, receiver):
    subscription = subscribe(graph, receiver).json()

    fake.send_lifecycle(subscription["id"], "reauthorizationRequired")
    fake.send_lifecycle(subscription["id"], "subscriptionRemoved")
    fake.deliver()

    assert [(p, b["value"][0]["lifecycleEvent"]) for p, b in receiver.received] == [
        ("/lifecycle", "reauthorizationRequired"),
        ("/lifecycle", "subscriptionRemoved"),
    ]
    assert graph("GET", f"/subscriptions/{subscription['id']}").status_code == 404


def test_notifications_can_be_dropped_or_duplicated_and_shuffled(fake, graph, receiver):
    subscribe(graph, receiver)
    fake.duplicate_notifications(3, shuffle=True)
    for day in range(3):
        fake.outlook_create("alice@contoso.test", subject="D", start=hour(day, 9), end=hour(day, 10), rooms=[ROOM])
    fake.deliver()
    duplicated = [b["value"][0]["resourceData"]["id"] for _p, b in receiver.received]

    receiver.received.clear()
    fake.duplicate_notifications(1, shuffle=False)
    fake.drop_notifications(1.0)
    fake.outlook_create("alice@contoso.test", subject="Lost", start=hour(5, 9), end=hour(5, 10), rooms=[ROOM])
    fake.deliver()

    assert len(duplicated) == 9 and len(set(duplicated)) == 3
    assert duplicated != sorted(duplicated, key=duplicated.index)  # not in the order they happened
    assert receiver.received == [] and len(fake.dropped) == 1


def test_deleting_a_subscription_stops_its_notifications(fake, graph, receiver):
    subscription = subscribe(graph, receiver).json()

    assert graph("DELETE", f"/subscriptions/{subscription['id']}").status_code == 204
    fake.outlook_create("alice@contoso.test", subject="M", start=hour(0, 9), end=hour(0, 10), rooms=[ROOM])
    fake.deliver()

    assert receiver.received == []
