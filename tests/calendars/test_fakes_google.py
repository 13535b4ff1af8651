"""The fake Google behaves as Google documents, for google-auth and google-api-python-client unmodified: a sanity
check that the engine's tests against it mean something."""

from __future__ import annotations

import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from calendars.providers.google import GoogleProvider
from tests.calendars.google_support import ALICE, ROOM, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(fake_google, google_credentials):
    provider = GoogleProvider(credentials=GoogleProvider.credentials_clean(google_credentials))
    return provider._service("calendar")


def _events(api, **query):
    return api.events().list(calendarId=ROOM, **query).execute(num_retries=0)


def test_a_forged_key_gets_no_token(fake_google, google_credentials):
    from calendars.fakes.google import make_service_account

    forged, _public = make_service_account(google_credentials["service_account"]["client_email"], token_uri="x")
    forged["token_uri"] = google_credentials["service_account"]["token_uri"]
    provider = GoogleProvider(credentials={"service_account": forged, "subject": google_credentials["subject"]})
    creds = provider._google_credentials()
    from google_auth_httplib2 import Request

    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(Request(provider._http()))


def test_the_sync_token_comes_on_the_last_page_only(api, fake_google):
    for day in (3, 4, 5):
        fake_google.user_event_create(
            ALICE, summary=f"D{day}", start=local(2026, 3, day, 9), end=local(2026, 3, day, 10), rooms=(ROOM,)
        )
    first = _events(api, singleEvents=True, maxResults=2)
    last = _events(api, singleEvents=True, maxResults=2, pageToken=first["nextPageToken"])

    assert "nextSyncToken" not in first and len(first["items"]) == 2
    assert "nextPageToken" not in last and last["nextSyncToken"]


def test_a_sync_token_cannot_be_combined_with_a_time_range(api, fake_google):
    token = _events(api, singleEvents=True)["nextSyncToken"]
    with pytest.raises(HttpError) as refused:
        _events(api, singleEvents=True, syncToken=token, timeMin="2026-03-01T00:00:00Z")
    assert refused.value.resp.status == 400


def test_a_token_of_another_calendar_or_expired_is_a_410(api, fake_google):
    token = _events(api, singleEvents=True)["nextSyncToken"]
    with pytest.raises(HttpError) as foreign:
        api.events().list(calendarId="havn@resource.labs.test", singleEvents=True, syncToken=token).execute()
    fake_google.expire_sync_tokens(ROOM)
    with pytest.raises(HttpError) as expired:
        _events(api, singleEvents=True, syncToken=token)
    assert foreign.value.resp.status == expired.value.resp.status == 410


def test_incremental_results_carry_deletions_as_cancelled(api, fake_google):
    event = fake_google.user_event_create(
        ALICE, summary="Gone soon", start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), rooms=(ROOM,)
    )
    token = _events(api, singleEvents=True)["nextSyncToken"]
    fake_google.user_event_delete(event)

    changes = _events(api, singleEvents=True, syncToken=token)

    assert [(i["id"], i["status"]) for i in changes["items"]] == [(event, "cancelled")]


def test_single_events_expand_instances_with_their_original_start(api, fake_google):
    master = fake_google.user_event_create(
        ALICE,
        summary="Daily",
        start=local(2026, 3, 3, 9),
        end=local(2026, 3, 3, 9, 30),
        rooms=(ROOM,),
        recurrence=("RRULE:FREQ=DAILY;COUNT=2",),
    )

    items = _events(api, singleEvents=True)["items"]

    assert [i["id"] for i in items] == [f"{master}_20260303T080000Z", f"{master}_20260304T080000Z"]
    assert {i["recurringEventId"] for i in items} == {master}
    assert items[1]["originalStartTime"]["dateTime"] == "2026-03-04T09:00:00+01:00"


def test_a_busy_room_declines_and_a_free_one_accepts(fake_google):
    first = fake_google.user_event_create(
        ALICE, summary="First", start=local(2026, 3, 3, 9), end=local(2026, 3, 3, 10), rooms=(ROOM,)
    )
    second = fake_google.user_event_create(
        "bob@labs.test", summary="Second", start=local(2026, 3, 3, 9, 30), end=local(2026, 3, 3, 10), rooms=(ROOM,)
    )
    assert (fake_google.room_response(ROOM, first), fake_google.room_response(ROOM, second)) == (
        "accepted",
        "declined",
    )


def test_rate_limits_answer_with_retry_after(api, fake_google):
    fake_google.fail_next(1, status=429, retry_after=7)
    with pytest.raises(HttpError) as limited:
        _events(api, singleEvents=True)
    assert (limited.value.resp.status, limited.value.resp["retry-after"]) == (429, "7")
