"""POST /api/v1/access/check/: 200 with allow/reason for every well-formed request, 401 without the reader's own key,
400 for malformed input, never a 500; one audit row per decision."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from badges import services
from badges.models import AccessDecision
from tests.badges.conftest import MONDAY, check
from tests.badges.factories import code_at

pytestmark = pytest.mark.django_db

URL = "/api/v1/access/check/"


def test_a_valid_code_is_allowed(frozen, reader_client, member_badge):
    response = check(reader_client, "cph-main", code_at(member_badge, MONDAY))
    assert response.status_code == 200
    body = response.json()
    assert (body["allow"], body["reason"], body["ttl_s"]) == (True, "ok", 5)
    assert AccessDecision.objects.get(pk=body["decision"]).allow


def test_a_denial_is_a_200_not_an_error(frozen, reader_client):
    response = check(reader_client, "cph-main", "nope")
    assert response.status_code == 200
    assert response.json()["allow"] is False and response.json()["reason"] == "unknown"


def test_revoke_then_the_very_next_scan_over_http_is_denied(frozen, staff_client, reader_client, member_badge):
    assert check(reader_client, "cph-main", code_at(member_badge, MONDAY)).json()["allow"]
    assert staff_client.post(f"/api/v1/badges/{member_badge.pk}/revoke/").status_code == 200
    frozen.shift(30)
    body = check(reader_client, "cph-main", code_at(member_badge, MONDAY.replace(second=30))).json()
    assert (body["allow"], body["reason"]) == (False, "revoked")


def test_a_replayed_code_is_denied_over_http(frozen, reader_client, member_badge):
    code = code_at(member_badge, MONDAY)
    assert check(reader_client, "cph-main", code).json()["allow"]
    assert check(reader_client, "cph-main", code).json()["reason"] == "replayed"


def test_a_missing_key_is_401_and_not_audited(frozen, main_reader, member_badge):
    response = check(APIClient(), "cph-main", code_at(member_badge, MONDAY))
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert not AccessDecision.objects.exists()


@pytest.mark.parametrize("key", ["wrong", "x" * 500, " ", "é"])
def test_a_wrong_key_is_401(frozen, main_reader, member_badge, key):
    client = APIClient()
    client.credentials(HTTP_X_READER_KEY=key)
    response = check(client, "cph-main", code_at(member_badge, MONDAY))
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    assert not AccessDecision.objects.exists()


def test_another_readers_key_is_401(frozen, main_reader, lab_reader, member_badge):
    client = APIClient()
    client.credentials(HTTP_X_READER_KEY=lab_reader.api_key)
    assert check(client, "cph-main", code_at(member_badge, MONDAY)).status_code == 401


def test_an_unknown_reader_is_401(frozen, reader_client, member_badge):
    assert check(reader_client, "no-such-reader", code_at(member_badge, MONDAY)).status_code == 401


def test_a_rotated_key_stops_working_at_once(frozen, main_reader, reader_client, member_badge):
    new_key = services.reader_rotate_key(reader=main_reader)
    assert check(reader_client, "cph-main", code_at(member_badge, MONDAY)).status_code == 401
    client = APIClient()
    client.credentials(HTTP_X_READER_KEY=new_key)
    assert check(client, "cph-main", code_at(member_badge, MONDAY)).json()["allow"]


def test_only_a_digest_of_the_key_is_stored(main_reader):
    main_reader.refresh_from_db()
    assert main_reader.api_key not in main_reader.key_digest and len(main_reader.key_digest) == 64


def test_user_sessions_and_tokens_do_not_authenticate_a_reader(frozen, member_client, staff_client, member_badge):
    for client in (member_client, staff_client):
        assert check(client, "cph-main", code_at(member_badge, MONDAY)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reader": "cph-main"},
        {"credential": {"type": "qr", "value": "x"}},
        {"reader": "cph-main", "credential": "abc"},
        {"reader": "cph-main", "credential": {"type": "nfc", "value": "x"}},
        {"reader": "cph-main", "credential": {"type": "qr"}},
        {"reader": "cph-main", "credential": {"type": "qr", "value": ""}},
        {"reader": "cph-main", "credential": {"type": "qr", "value": None}},
        {"reader": "cph-main", "credential": {"type": "qr", "value": "x" * 513}},
        {"reader": "cph-main", "credential": {"type": "qr", "value": "a\x00b"}},
        {"reader": "cph-\x00main", "credential": {"type": "qr", "value": "x"}},
        {"reader": "r" * 65, "credential": {"type": "qr", "value": "x"}},
        {"reader": ["cph-main"], "credential": {"type": "qr", "value": "x"}},
        [],
        "text",
    ],
)
def test_malformed_requests_are_400(frozen, reader_client, body):
    response = reader_client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not AccessDecision.objects.exists()


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"null", b'{"reader": "cph-main", "credential": {"type": "qr"'])
def test_unparseable_bodies_are_400(reader_client, main_reader, raw):
    response = reader_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400


def test_other_content_types_are_415(reader_client):
    assert (
        reader_client.post(URL, "reader=cph-main", content_type="application/x-www-form-urlencoded").status_code == 415
    )


def test_get_is_not_allowed(reader_client):
    assert reader_client.get(URL).status_code == 405


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["qr", "card"]),
    value=st.one_of(
        st.text(min_size=1, max_size=512).filter(lambda v: "\x00" not in v),
        st.from_regex(r"[a-z2-7]{12}\.[a-z2-7]{16}", fullmatch=True),
        st.from_regex(r"([0-9A-Fa-f]{2}[:\- ]?){2,20}", fullmatch=True),
    ),
)
def test_fuzzed_credentials_over_http_are_denied_never_500_and_audited_once(
    reader_client, main_reader, member_badge, kind, value
):
    before = AccessDecision.objects.count()
    response = check(reader_client, "cph-main", value, kind)
    assert response.status_code == 200, response.content
    assert response.json()["allow"] is False
    assert AccessDecision.objects.count() == before + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=12,
    )
)
def test_fuzzed_bodies_never_500(reader_client, main_reader, body):
    response = reader_client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), response.content
