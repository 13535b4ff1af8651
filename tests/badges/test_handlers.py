"""The MQTT scan handler: the same service as the HTTP path, a decision per well-formed scan, per the contract."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from badges.handlers import handle_scan
from badges.models import AccessDecision
from badges.simulator import ReaderClient
from labs import mqtt_router
from tests.badges.conftest import MONDAY
from tests.badges.factories import code_at

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "mqtt-schemas"
SCAN_SCHEMA = json.loads((SCHEMAS / "scan.json").read_text())
DECISION_SCHEMA = json.loads((SCHEMAS / "decision.json").read_text())
TOPIC = "labs/v1/cph/reader/cph-main/scan"


def scan(value, kind="qr", scan_id="cph-main-000001"):
    payload = {"scan_id": scan_id, "credential": {"type": kind, "value": value}, "ts": "2026-03-02T08:00:00.000Z"}
    jsonschema.validate(payload, SCAN_SCHEMA)
    return payload


def test_a_scan_gets_a_decision_on_the_readers_decision_topic(frozen, main_reader, member_badge):
    (reply,) = handle_scan(TOPIC, scan(code_at(member_badge, MONDAY)))
    assert reply.topic == "labs/v1/cph/reader/cph-main/decision" and reply.qos == 1 and not reply.retain
    assert reply.payload == {"scan_id": "cph-main-000001", "allow": True, "reason": "ok", "ttl_s": 5}
    jsonschema.validate(reply.payload, DECISION_SCHEMA)
    row = AccessDecision.objects.get()
    assert (row.channel, row.scan_id, row.reader_id) == ("mqtt", "cph-main-000001", main_reader.pk)


def test_the_router_sends_scans_to_the_handler(frozen, main_reader, member_badge):
    assert "labs/v1/+/reader/+/scan" in mqtt_router.subscriptions()
    raw = json.dumps(scan(code_at(member_badge, MONDAY))).encode()
    (reply,) = mqtt_router.dispatch(TOPIC, raw)
    assert reply.payload["allow"] is True


def test_replay_and_revocation_hold_over_mqtt(frozen, staff, main_reader, member_badge):
    from badges import services

    code = code_at(member_badge, MONDAY)
    assert handle_scan(TOPIC, scan(code))[0].payload["allow"]
    assert handle_scan(TOPIC, scan(code, scan_id="2"))[0].payload["reason"] == "replayed"
    services.badge_revoke(actor=staff, badge=member_badge)
    frozen.shift(30)
    fresh = code_at(member_badge, MONDAY.replace(second=30))
    assert handle_scan(TOPIC, scan(fresh, scan_id="3"))[0].payload["reason"] == "revoked"


def test_an_unknown_reader_or_a_site_mismatch_is_denied_and_audited(frozen, main_reader, member_badge):
    (unknown,) = handle_scan("labs/v1/cph/reader/ghost/scan", scan(code_at(member_badge, MONDAY)))
    assert unknown.topic == "labs/v1/cph/reader/ghost/decision" and unknown.payload["reason"] == "unknown_reader"
    (wrong_site,) = handle_scan("labs/v1/aar/reader/cph-main/scan", scan(code_at(member_badge, MONDAY)))
    assert wrong_site.payload["reason"] == "unknown_reader"
    assert AccessDecision.objects.filter(reason="unknown_reader").count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"scan_id": "1"},
        {"scan_id": "1", "credential": "x"},
        {"scan_id": "1", "credential": {"type": "nfc", "value": "x"}},
        {"scan_id": "1", "credential": {"type": "qr", "value": 5}},
        {"scan_id": "1", "credential": {"type": "qr", "value": ""}},
        {"scan_id": "1", "credential": {"type": "qr", "value": "x" * 513}},
        {"scan_id": "1", "credential": {"type": "qr", "value": "a\x00b"}},
        {"scan_id": "has space", "credential": {"type": "qr", "value": "x"}},
        {"scan_id": "x" * 65, "credential": {"type": "qr", "value": "x"}},
        {"scan_id": 7, "credential": {"type": "qr", "value": "x"}},
    ],
)
def test_malformed_scans_are_dropped_not_decided(main_reader, payload):
    assert handle_scan(TOPIC, payload) == []
    assert not AccessDecision.objects.exists()


@pytest.mark.parametrize("topic", ["labs/v1/cph/reader/cph-main/decision", "labs/v1/cph/desk/cph-main/scan", "x"])
def test_other_topics_are_ignored(main_reader, topic):
    assert handle_scan(topic, {"scan_id": "1", "credential": {"type": "qr", "value": "x"}}) == []


def test_non_json_payloads_are_dropped_by_the_router(main_reader):
    assert mqtt_router.dispatch(TOPIC, b"\xff not json") == []
    assert mqtt_router.dispatch(TOPIC, b"[1, 2]") == []
    assert not AccessDecision.objects.exists()


def test_the_simulated_readers_scans_follow_the_contract():
    reader = ReaderClient("cph-main", "cph")
    payload = reader.scan_payload("qr", "abcdefghijkl.abcdefghijklmnop")
    jsonschema.validate(payload, SCAN_SCHEMA)
    assert reader.scan_topic == TOPIC and reader.decision_topic.endswith("/cph-main/decision")
    assert reader.scan_payload("card", "04A1B2C3")["scan_id"] == "cph-main-000002"
