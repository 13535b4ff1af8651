"""The Microsoft adapter against the fake Graph, with the real msal and requests (no engine, no database rows)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars.providers import microsoft
from calendars.providers.base import (
    CredentialsRejected,
    EventGone,
    OutboundEvent,
    ProviderError,
    RateLimited,
    RoomResponse,
    SyncTokenInvalid,
    SyncWindow,
    Watch,
)
from calendars.providers.microsoft import MicrosoftProvider, iana_zone, parse_graph_datetime, recurrence_to_rrule
from labs.errors import Invalid
from tests.calendars.ms_support import ALICE, BOB, OTHER_ROOM, ROOM, SERVICE, at, credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def slept():
    return []


@pytest.fixture
def provider(fake_ms, slept):
    return MicrosoftProvider(credentials=credentials(fake_ms), connection_id=1, sleep=slept.append)


def window():
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return SyncWindow(now - timedelta(days=1), now + timedelta(days=180))


def outbound(key="b0c1", start=None, end=None, title="Design review"):
    start = start or at(0, 9)
    return OutboundEvent(
        key=key,
        title=title,
        start=start,
        end=end or start + timedelta(hours=1),
        timezone="Europe/Copenhagen",
        organiser_email="member@example.com",
        attendee_count=3,
        location="Fjord",
    )


# --- credentials and tokens ----------------------------------------------------------------------------------


def test_credentials_need_tenant_client_and_secret_and_take_a_service_mailbox():
    cleaned = MicrosoftProvider.credentials_clean(
        {
            "tenant_id": " contoso.onmicrosoft.com ",
            "client_id": "0b7c5a3e-2f1d-4e6b-8a9c-1d2e3f4a5b6c",
            "client_secret": "s",
            "service_mailbox": "rooms@contoso.test",
        }
    )

    assert cleaned["tenant_id"] == "contoso.onmicrosoft.com"
    assert cleaned["service_mailbox"] == "rooms@contoso.test"
    with pytest.raises(Invalid, match="client_secret"):
        MicrosoftProvider.credentials_clean({"tenant_id": "contoso.test", "client_id": cleaned["client_id"]})
    with pytest.raises(Invalid, match="service_mailbox"):
        MicrosoftProvider.credentials_clean({**cleaned, "service_mailbox": "not an address"})
    with pytest.raises(Invalid, match="client_id"):
        MicrosoftProvider.credentials_clean({**cleaned, "client_id": "nope"})


def test_verifying_good_credentials_gets_a_token_and_asks_nothing_of_microsoft(provider, fake_ms, closed_network):
    provider.credentials_verify()

    assert fake_ms.counts() == {"openid-configuration": 1, "token": 1}
    assert closed_network == []


def test_a_wrong_secret_is_rejected_naming_microsofts_answer(fake_ms):
    provider = MicrosoftProvider(credentials=credentials(fake_ms, client_secret="wrong"))

    with pytest.raises(CredentialsRejected, match="invalid_client: AADSTS7000215"):
        provider.credentials_verify()


def test_an_unknown_tenant_is_rejected(fake_ms):
    provider = MicrosoftProvider(credentials=credentials(fake_ms, tenant_id="nowhere.test"))

    with pytest.raises(CredentialsRejected, match="AADSTS90002"):
        provider.credentials_verify()


def test_every_worker_shares_one_token_through_the_cache(fake_ms, monkeypatch):
    MicrosoftProvider(credentials=credentials(fake_ms)).resources_list()
    monkeypatch.setattr(microsoft, "_apps", {})  # another worker process: no msal app of its own yet

    MicrosoftProvider(credentials=credentials(fake_ms)).resources_list()

    assert fake_ms.count("token") == 1
    assert fake_ms.count("openid-configuration") == 2


def test_a_refused_token_is_replaced_once(provider, fake_ms):
    provider.resources_list()
    fake_ms.expire_access_tokens()

    assert [r.calendar_id for r in provider.resources_list()] == [ROOM, OTHER_ROOM]
    assert fake_ms.count("token") == 2


def test_the_ca_bundle_is_used_even_when_requests_ca_bundle_says_otherwise(provider, fake_ms, monkeypatch, tmp_path):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())

    provider.credentials_verify()
    assert len(provider.resources_list()) == 2


def test_without_the_ca_bundle_the_fake_is_not_trusted(fake_ms, settings):
    settings.MS_CA_BUNDLE = None

    with pytest.raises(ProviderError):
        MicrosoftProvider(credentials=credentials(fake_ms)).credentials_verify()


# --- rooms ---------------------------------------------------------------------------------------------------


def test_resources_are_the_tenants_room_mailboxes(provider):
    rooms = provider.resources_list()

    assert [(r.calendar_id, r.name, r.capacity, r.building, r.floor) for r in rooms] == [
        (ROOM, "Fjord", 6, "HQ", "1"),
        (OTHER_ROOM, "Havn", 10, "HQ", "2"),
    ]


# --- reading -------------------------------------------------------------------------------------------------


def test_a_full_sync_reads_every_page_and_an_unchanged_calendar_then_costs_one_request(provider, fake_ms, settings):
    settings.CALENDAR_PAGE_SIZE = 2
    for day in range(5):
        fake_ms.outlook_create(ALICE, subject=f"M{day}", start=at(day), end=at(day, 10), rooms=[ROOM])

    full = provider.changes_list(ROOM, token=None, window=window())
    assert (len(full.events), full.full, provider.requests) == (5, True, 3)

    provider.requests = 0
    again = provider.changes_list(ROOM, token=full.next_token, window=window())
    assert (again.events, again.full, provider.requests) == ([], False, 1)


def test_inbound_events_carry_what_a_booking_needs(provider, fake_ms):
    fake_ms.outlook_create(
        ALICE,
        subject="Quarterly",
        start=at(0, 9),
        end=at(0, 10, 30),
        rooms=[ROOM],
        attendees=[BOB, "carol@partner.test"],
        time_zone="Romance Standard Time",
    )

    [event] = provider.changes_list(ROOM, token=None, window=window()).events

    assert (event.start, event.end) == (at(0, 9), at(0, 10, 30))
    assert event.title == "Alice Jensen"  # the room mailbox's rewrite; the engine keeps what it gets
    assert event.organiser_email == ALICE
    assert event.attendee_count == 2
    assert event.room_response == RoomResponse.ACCEPTED
    assert event.ical_uid and event.etag and not event.booking_key and event.status == "confirmed"


def test_moves_and_cancellations_arrive_as_changes(provider, fake_ms):
    moved = fake_ms.outlook_create(BOB, subject="Moved", start=at(1), end=at(1, 10), rooms=[ROOM])
    gone = fake_ms.outlook_create(BOB, subject="Gone", start=at(2), end=at(2, 10), rooms=[ROOM])
    first = provider.changes_list(ROOM, token=None, window=window())
    ids = {e.ical_uid: e.id for e in first.events}

    fake_ms.outlook_move(BOB, moved.id, start=at(1, 14), end=at(1, 15))
    fake_ms.outlook_cancel(BOB, gone.id)
    changes = {e.id: e for e in provider.changes_list(ROOM, token=first.next_token, window=window()).events}

    assert changes[ids[moved.ical_uid]].start == at(1, 14)
    assert changes[ids[gone.ical_uid]].is_cancelled


def test_a_replayed_change_is_read_once(provider, fake_ms):
    first = provider.changes_list(ROOM, token=None, window=window())
    fake_ms.replay_changes = True
    fake_ms.outlook_create(ALICE, subject="Once", start=at(0), end=at(0, 10), rooms=[ROOM])

    changes = provider.changes_list(ROOM, token=first.next_token, window=window())

    assert len(changes.events) == 1


def test_an_expired_delta_token_is_sync_token_invalid(provider, fake_ms):
    first = provider.changes_list(ROOM, token=None, window=window())
    fake_ms.expire_delta_tokens(ROOM)

    with pytest.raises(SyncTokenInvalid):
        provider.changes_list(ROOM, token=first.next_token, window=window())


def test_a_delta_link_to_another_host_is_never_followed(provider, fake_ms):
    with pytest.raises(SyncTokenInvalid):
        provider.changes_list(ROOM, token="https://attacker.test/v1.0/x?$deltatoken=1", window=window())
    assert fake_ms.count("calendarView.delta") == 0


def test_the_query_fingerprint_names_calendar_and_window(provider):
    one, other = window(), SyncWindow(window().start + timedelta(days=1), window().end + timedelta(days=1))

    assert provider.query_fingerprint(ROOM, one) == provider.query_fingerprint(ROOM.upper(), one)
    assert provider.query_fingerprint(ROOM, one) != provider.query_fingerprint(ROOM, other)
    assert provider.query_fingerprint(ROOM, one) != provider.query_fingerprint(OTHER_ROOM, one)


def test_a_series_comes_as_instances_with_their_series_and_original_start(provider, fake_ms):
    series = fake_ms.outlook_create(
        ALICE,
        subject="Stand-up",
        start=at(0, 8),
        end=at(0, 8, 30),
        rooms=[ROOM],
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 3},
        },
    )
    fake_ms.outlook_cancel_occurrence(ALICE, series.id, at(1, 8))
    fake_ms.outlook_move_occurrence(ALICE, series.id, at(2, 8), start=at(2, 16), end=at(2, 16, 30))

    events = provider.changes_list(ROOM, token=None, window=window()).events

    copy = fake_ms.room_copy(ROOM, series.ical_uid)
    assert [(e.start, e.original_start) for e in events] == [(at(0, 8), at(0, 8)), (at(2, 16), at(2, 8))]
    assert {e.recurring_event_id for e in events} == {copy.id}


def test_series_get_gives_the_rule_in_the_series_own_zone(provider, fake_ms):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Copenhagen
    series = fake_ms.outlook_create(
        ALICE,
        subject="Weekly",
        start=start,
        end=start + timedelta(hours=1),
        rooms=[ROOM],
        time_zone="Romance Standard Time",
        recurrence={
            "pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "wednesday"]},
            "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-04-29"},
        },
    )

    info = provider.series_get(ROOM, fake_ms.room_copy(ROOM, series.ical_uid).id)

    assert info.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU;UNTIL=20260429T215959Z"
    assert info.timezone == "Europe/Paris"
    assert (info.start, info.end) == (start, start + timedelta(hours=1))
    assert provider.series_get(ROOM, "AAMk-no-such-series") is None


def test_recurrence_patterns_map_to_rrules():
    utc = ZoneInfo("UTC")
    assert recurrence_to_rrule(
        {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "numbered", "numberOfOccurrences": 5}}, utc
    ) == ("FREQ=DAILY;COUNT=5")
    assert recurrence_to_rrule(
        {
            "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "last"},
            "range": {"type": "noEnd"},
        },
        utc,
    ) == ("FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1")
    assert recurrence_to_rrule(
        {"pattern": {"type": "absoluteMonthly", "interval": 3, "dayOfMonth": 15}, "range": {"type": "noEnd"}}, utc
    ) == ("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15")


def test_windows_zone_names_map_to_iana():
    assert iana_zone("Romance Standard Time").key == "Europe/Paris"
    assert iana_zone("W. Europe Standard Time").key == "Europe/Berlin"
    assert iana_zone("Pacific Standard Time").key == "America/Los_Angeles"
    assert iana_zone("Europe/Copenhagen").key == "Europe/Copenhagen"
    assert parse_graph_datetime(
        {"dateTime": "2026-07-01T09:00:00.0000000", "timeZone": "Romance Standard Time"}
    ) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    with pytest.raises(ProviderError):
        iana_zone("Atlantis Standard Time")


# --- writing -------------------------------------------------------------------------------------------------


def test_a_booking_is_written_from_the_service_mailbox_and_the_room_accepts_it(provider, fake_ms):
    written = provider.event_create(ROOM, outbound())

    copy = fake_ms.room_copy(ROOM, written.ical_uid)
    mine = fake_ms.mailbox(SERVICE).events[written.write_ref.split("|")[1]]
    assert written.write_ref == f"{SERVICE}|{mine.id}"
    assert written.room_response == RoomResponse.ACCEPTED
    assert copy is not None and copy.id != mine.id
    assert (copy.start, copy.end) == (at(0, 9), at(0, 10))
    assert mine.time_zone == "Romance Standard Time"  # shown in the site's zone in Outlook
    assert [p[1] for p in mine.extended.values()] == ["b0c1"]
    assert copy.extended == {}


def test_the_room_copy_of_our_write_is_recognisable_by_ical_uid_only(provider, fake_ms):
    written = provider.event_create(ROOM, outbound())

    [echo] = provider.changes_list(ROOM, token=None, window=window()).events

    assert echo.ical_uid == written.ical_uid
    assert echo.id != written.id
    assert echo.booking_key == "" and echo.title == "Labs bookings"


def test_a_retried_create_does_not_make_a_second_event(provider, fake_ms):
    first = provider.event_create(ROOM, outbound())
    second = provider.event_create(ROOM, outbound())

    assert first.write_ref == second.write_ref
    assert len(fake_ms.calendar_view(ROOM, at(-1), at(2))) == 1


def test_retiming_moves_the_room_copy_and_deleting_cancels_it(provider, fake_ms):
    written = provider.event_create(ROOM, outbound())

    provider.event_update(ROOM, written.write_ref, outbound(start=at(1, 13)))
    assert fake_ms.room_copy(ROOM, written.ical_uid).start == at(1, 13)

    provider.event_delete(ROOM, written.write_ref)
    assert fake_ms.room_copy(ROOM, written.ical_uid) is None
    provider.event_delete(ROOM, written.write_ref)  # already gone: not an error
    with pytest.raises(EventGone):
        provider.event_update(ROOM, written.write_ref, outbound())


def test_a_booking_the_room_declines_says_so(provider, fake_ms):
    fake_ms.outlook_create(ALICE, subject="First", start=at(0, 9), end=at(0, 10), rooms=[ROOM])

    written = provider.event_create(ROOM, outbound())

    assert written.room_response == RoomResponse.DECLINED


def test_without_a_service_mailbox_the_room_calendar_is_written_directly(fake_ms):
    provider = MicrosoftProvider(credentials=fake_ms.credentials())

    written = provider.event_create(ROOM, outbound())

    assert written.write_ref == "" and written.room_response == RoomResponse.OWNER
    [listed] = provider.changes_list(ROOM, token=None, window=window()).events
    assert listed.id == written.id and listed.room_response == RoomResponse.OWNER


def test_the_room_declines_an_inbound_event_with_a_comment(provider, fake_ms):
    meeting = fake_ms.outlook_create(ALICE, subject="Clash", start=at(0, 9), end=at(0, 10), rooms=[ROOM])
    [event] = provider.changes_list(ROOM, token=None, window=window()).events

    provider.event_respond(ROOM, event, accept=False, comment="Fjord is already booked 09:00-10:00.")

    assert fake_ms.room_copy(ROOM, meeting.ical_uid) is None
    assert meeting.attendees[0]["response"] == "declined"
    assert fake_ms.responses[-1]["comment"] == "Fjord is already booked 09:00-10:00."


def test_an_event_written_straight_into_the_room_is_removed_when_declined(fake_ms):
    direct = MicrosoftProvider(credentials=fake_ms.credentials())
    written = direct.event_create(ROOM, outbound())
    [event] = direct.changes_list(ROOM, token=None, window=window()).events

    direct.event_respond(ROOM, event, accept=False, comment="conflict")

    assert fake_ms.room_copy(ROOM, written.ical_uid) is None


# --- push ----------------------------------------------------------------------------------------------------


def test_a_subscription_is_made_on_the_room_events_and_its_expiration_read_back(provider, fake_ms):
    wanted = datetime.now(UTC) + timedelta(days=30)

    watch = provider.watch_start(
        ROOM,
        address="https://labs.test/api/v1/calendars/microsoft/notifications/",
        token="c" * 64,
        expires_at=wanted,
        lifecycle_address="https://labs.test/api/v1/calendars/microsoft/lifecycle/",
    )

    [subscription] = fake_ms.subscriptions_for(ROOM)
    assert watch.id == subscription.id
    assert subscription.change_types == ("created", "updated", "deleted")
    assert subscription.client_state == "c" * 64
    assert subscription.lifecycle_url.endswith("/lifecycle/")
    assert watch.expires_at == subscription.expiration.replace(microsecond=0) or watch.expires_at < wanted
    assert watch.expires_at < datetime.now(UTC) + timedelta(days=7)


def test_renewing_patches_the_expiration_and_a_vanished_subscription_is_made_again(provider, fake_ms):
    address = "https://labs.test/n/"
    watch = provider.watch_start(ROOM, address=address, token="t", expires_at=datetime.now(UTC) + timedelta(days=2))

    renewed = provider.watch_renew(
        ROOM, watch, address=address, token="t", expires_at=datetime.now(UTC) + timedelta(days=5)
    )
    assert renewed.id == watch.id and renewed.expires_at > watch.expires_at

    fake_ms.expire_subscription(watch.id)
    remade = provider.watch_renew(
        ROOM, watch, address=address, token="t", expires_at=datetime.now(UTC) + timedelta(days=5)
    )
    assert remade.id != watch.id
    assert [s.id for s in fake_ms.subscriptions_for(ROOM)] == [remade.id]

    provider.watch_stop(remade)
    provider.watch_stop(remade)  # already gone: not an error
    assert fake_ms.subscriptions_for(ROOM) == []


def test_a_subscription_the_endpoint_does_not_validate_is_a_provider_error(provider, fake_ms):
    fake_ms.transport = lambda url, **kwargs: (404, "")

    with pytest.raises(ProviderError, match="validation"):
        provider.watch_start(
            ROOM, address="https://labs.test/n/", token="t", expires_at=datetime.now(UTC) + timedelta(days=1)
        )


def test_notifications_parse_changes_and_lifecycle_events():
    body = (
        b'{"value": [{"subscriptionId": "s1", "clientState": "k", "changeType": "updated",'
        b' "resource": "Users/u/Events/e"},'
        b' {"subscriptionId": "s2", "clientState": "k", "lifecycleEvent": "missed"}]}'
    )

    change, lifecycle = MicrosoftProvider.notifications_parse(headers={}, body=body)

    assert (change.watch_id, change.token, change.kind, change.resource) == ("s1", "k", "change", "Users/u/Events/e")
    assert (lifecycle.watch_id, lifecycle.kind) == ("s2", "missed")
    for bad in (b"", b"not json", b"{}", b'{"value": []}', b'{"value": [{"clientState": "k"}]}'):
        with pytest.raises(ValueError):
            MicrosoftProvider.notifications_parse(headers={}, body=bad)


# --- limits --------------------------------------------------------------------------------------------------


def test_a_429_waits_its_retry_after_and_loses_nothing(provider, fake_ms, slept):
    fake_ms.outlook_create(ALICE, subject="M", start=at(0), end=at(0, 10), rooms=[ROOM])
    fake_ms.throttle(times=2, retry_after=2, mailbox=ROOM)

    changes = provider.changes_list(ROOM, token=None, window=window())

    assert len(changes.events) == 1
    assert slept == [2.0, 2.0]
    assert provider.requests == 3


def test_a_retry_after_longer_than_the_wait_in_place_reaches_the_caller(provider, fake_ms, slept):
    fake_ms.throttle(times=1, retry_after=120, mailbox=ROOM)

    with pytest.raises(RateLimited) as caught:
        provider.changes_list(ROOM, token=None, window=window())

    assert caught.value.retry_after == 120 and slept == []


def test_no_more_than_four_requests_are_in_flight_per_mailbox(fake_ms):
    fake_ms.latency = 0.2
    errors = []

    def work():
        try:
            MicrosoftProvider(credentials=credentials(fake_ms)).series_get(ROOM, "AAMk-missing")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        fake_ms.latency = 0

    assert errors == []
    assert fake_ms.max_inflight[ROOM] == 4
    assert fake_ms.count("events.get", mailbox=ROOM) == 10


def test_a_failing_mailbox_is_an_error_of_that_mailbox_only(provider, fake_ms):
    fake_ms.fail_mailbox(ROOM)

    with pytest.raises(ProviderError) as caught:
        provider.changes_list(ROOM, token=None, window=window())
    assert caught.value.retryable and "503" in str(caught.value)
    assert provider.changes_list(OTHER_ROOM, token=None, window=window()).events == []


def test_an_unknown_mailbox_is_a_provider_error_not_a_gone_event(provider):
    with pytest.raises(ProviderError) as caught:
        provider.changes_list("nobody@contoso.test", token=None, window=window())
    assert not isinstance(caught.value, EventGone)
    assert "ErrorInvalidUser" in str(caught.value)


def test_watch_renewal_keeps_what_it_is_given():
    assert Watch(id="x").resource_id == ""
