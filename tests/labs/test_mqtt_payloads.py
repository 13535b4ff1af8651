"""Device messages are checked before they touch the database: strict JSON, limits, then the published JSON Schemas."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import jsonschema
import pytest
from django.utils import timezone

from comfort.simulator import SimDesk, SimFan, SimHvac
from labs import mqtt_payloads, mqtt_router
from labs.models import MqttCredential
from labs.mqtt_payloads import Dropped, Oversize, check

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "mqtt-schemas"
ACK = "labs/v1/cph/desk/d1/ack"
CMD = "6f1c0e8e-5b7a-4d0e-9a55-0123456789ab"
GOOD_ACK = {"cmd_id": CMD, "av": 42, "ac": 200, "ad": "applied", "reported": {"height_mm": 1099, "moving": False}}


def _raw(document) -> bytes:
    return json.dumps(document).encode()


def test_a_good_ack_passes_as_the_object_it_encodes():
    assert check(ACK, _raw(GOOD_ACK)) == GOOD_ACK


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b'{"cmd_id": "x", "av": NaN, "ac": 200}', "NaN is not allowed"),
        (b'{"cmd_id": "x", "av": Infinity, "ac": 200}', "Infinity is not allowed"),
        (b'{"cmd_id": "x", "av": -Infinity, "ac": 200}', "-Infinity is not allowed"),
        (b'{"cmd_id": "x", "av": 1, "ac": 200, "eta_s": 1e400}', "overflows to infinity"),
        (_raw({**GOOD_ACK, "ad": "moving\x00"}), "NUL in a string"),
        (_raw({**GOOD_ACK, "reported": {"h\x00": 1}}), "NUL in a string"),
        (b'{"cmd_id": "x", "av": 1, "ac": 200, "ad": "\\ud800"}', "lone surrogate"),
        (_raw({**GOOD_ACK, "av": 2**63}), "integer beyond 64 bits"),
        (_raw({**GOOD_ACK, "x": -(2**63) - 1}), "integer beyond 64 bits"),
        (b'{"a": ' + b"[" * 12 + b"]" * 12 + b"}", "nesting deeper than 8"),
        (b"[" * 100_000 + b"]" * 100_000, "payload of 200000 bytes"),
        (b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nesting too deep to parse"),
        (b'{"cmd_id": "x", "cmd_id": "y", "av": 1, "ac": 200}', "duplicate key"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"not json", "not JSON"),
        (b'{"av": 1' + b"9" * 5000 + b"}", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_raw({**GOOD_ACK, "av": "42"}), "schema: data.av must be integer"),
        (_raw({**GOOD_ACK, "ac": 999}), "schema: data.ac must be smaller than or equal to 599"),
        (_raw({**GOOD_ACK, "cmd_id": "../../etc"}), "schema: data.cmd_id must match pattern"),
        (_raw({**GOOD_ACK, "progress": 2}), "schema: data.progress must be smaller"),
        (_raw({**GOOD_ACK, "extra": {"nested": "object"}}), "schema: data.extra must be number or string"),
        (_raw({**GOOD_ACK, "ad": "x" * 300}), "schema: data.ad must be shorter"),
        (b"x" * 70_000, "payload of 70000 bytes over 65536"),
    ],
)
def test_it_drops_what_the_contract_does_not_allow_with_a_reason(raw, reason):
    with pytest.raises(Dropped) as dropped:
        check(ACK, raw)
    assert reason in dropped.value.reason


def test_an_oversize_payload_is_dropped_by_its_size_alone():
    with pytest.raises(Dropped, match="payload of 16777216 bytes"):
        check(ACK, Oversize(16 * 1024 * 1024))


@pytest.mark.parametrize(
    "topic",
    ["labs/v1/cph/desk/d1/desired", "labs/v1/cph/reader/r1/decision", "labs/v1/cph/desk/d1/scan", "labs/v1/x", "#"],
)
def test_only_what_devices_publish_is_accepted(topic):
    with pytest.raises(Dropped):
        check(topic, _raw({"status": "online"}))


def test_a_reader_may_send_scans_and_its_status():
    scan = {"scan_id": "r1-000001", "credential": {"type": "qr", "value": "abc"}, "ts": "2026-11-24T09:00:00.000Z"}
    assert check("labs/v1/cph/reader/r1/scan", _raw(scan)) == scan
    assert check("labs/v1/cph/reader/r1/status", _raw({"status": "online"})) == {"status": "online"}


def test_a_dict_payload_gets_the_same_checks():
    with pytest.raises(Dropped, match="overflows to infinity"):
        check(ACK, {**GOOD_ACK, "eta_s": float("inf")})


def test_a_text_payload_with_a_lone_surrogate_in_it_is_walked_and_dropped():
    # In bytes a lone surrogate can only arrive as a \\u escape; a str may hold the character itself.
    with pytest.raises(Dropped, match="lone surrogate"):
        check(ACK, '{"cmd_id": "x", "av": 1, "ac": 200, "ad": "\ud800"}')


def test_only_payloads_that_could_fail_the_walk_are_walked(monkeypatch):
    walked = []
    real = mqtt_payloads._walk
    monkeypatch.setattr(
        mqtt_payloads, "_walk", lambda document, depth: walked.append(document) or real(document, depth)
    )

    assert check(ACK, _raw(GOOD_ACK)) == GOOD_ACK
    assert walked == []  # no escape, no long number, no exponent, three brackets: nothing the walk could refuse
    for uuid_like in ("6f1c0e8e-5b7a-4d0e-9a55-0123456789ab", "1e123456-5b7a-4d0e-9a55-8e1234567890"):
        assert check(ACK, _raw({**GOOD_ACK, "cmd_id": uuid_like, "eta_s": 1.5e3}))  # "8e123" in a UUID: no number
    assert walked == []
    could_fail = [
        {**GOOD_ACK, "ad": "applied \u00e6"},  # an escape (json.dumps writes one for the backslash and for æ)
        {**GOOD_ACK, "av": 2**63 - 1},  # 19 digits, still within 64 bits
        {**GOOD_ACK, "eta_s": 1.5e300},  # a three-digit exponent
        {**GOOD_ACK, "eta_s": -2e-300},
        {**GOOD_ACK, "reported": {"height_mm": 1099, "moving": False, "a": [[[[[[[1]]]]]]]}},  # nine brackets
    ]
    for document in could_fail:
        walked.clear()
        try:
            check(ACK, _raw(document))
        except Dropped as dropped:
            assert dropped.reason.startswith("schema") or "nesting" in dropped.reason
        assert walked, document


def _simulator_messages() -> list[tuple[str, dict]]:
    """Every device -> backend message the simulators send in a round of the contract."""
    out = []
    for device, desired in (
        (SimDesk("d1", "cph", speed_mm_s=100), {"height_mm": 1100}),
        (SimHvac("h1", "cph"), {"setpoint_c": 21.5, "mode": "cool", "fan": "auto"}),
        (SimFan("f1", "cph"), {"on": True, "speed_pct": 60}),
    ):
        doc = {"v": 1, "cmd_id": CMD, "desired": desired}
        outs = device.on_desired(doc, 0.0) + device.tick(100.0) + device.on_desired(doc, 100.0)
        outs += device.on_desired({**doc, "cmd_id": CMD.replace("6", "7")}, 100.0)  # stale: 409
        outs.append(device.reported_out())
        out += [(device.topic(leaf), payload) for leaf, payload, _qos, _retain in outs]
        if device.telemetry() is not None:
            out.append((device.topic("telemetry"), device.telemetry()))
        out.append((device.topic("status"), {"status": "online", "ts": "2026-11-24T09:00:00.000Z"}))
    return out


def test_the_simulators_messages_pass_both_the_runtime_and_the_reference_validator():
    messages = _simulator_messages()
    assert {topic.rsplit("/", 1)[1] for topic, _ in messages} == {"ack", "reported", "telemetry", "status"}
    for topic, payload in messages:
        leaf = topic.rsplit("/", 1)[1]
        reference = json.loads((SCHEMAS / f"{leaf}.json").read_text())
        jsonschema.validate(payload, reference, format_checker=jsonschema.FormatChecker())
        assert check(topic, _raw(payload)) == payload


@pytest.mark.parametrize(
    "leaf,payload",
    [
        ("ack", {**GOOD_ACK, "eta_s": -1}),
        ("ack", {"cmd_id": CMD, "ac": 200}),
        ("reported", {"v_applied": -1}),
        ("reported", {"v_applied": 1, "speed_pct": 101}),
        ("reported", {"v_applied": 1, "extra": [1]}),
        ("status", {"status": "maybe"}),
        ("telemetry", {"rpm": -5}),
        ("scan", {"scan_id": "s 1", "credential": {"type": "qr", "value": "v"}}),
        ("scan", {"scan_id": "s1", "credential": {"type": "qr", "value": ""}}),
        ("scan", {"scan_id": "s1", "credential": {"type": "nfc", "value": "v"}}),
        ("scan", {"scan_id": "s1", "credential": {"type": "qr", "value": "v", "pin": "1234"}}),
    ],
)
def test_the_runtime_validator_refuses_what_the_reference_validator_refuses(leaf, payload):
    reference = json.loads((SCHEMAS / f"{leaf}.json").read_text())
    assert not jsonschema.Draft202012Validator(reference).is_valid(payload)
    kind = "reader" if leaf == "scan" else "desk"
    with pytest.raises(Dropped, match="schema"):
        check(f"labs/v1/cph/{kind}/d1/{leaf}", _raw(payload))


@pytest.mark.django_db
def test_a_dropped_message_is_logged_and_counted_against_its_device(monkeypatch, caplog):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    handled = []
    mqtt_router.register("labs/v1/+/+/+/ack", lambda topic, payload: handled.append(payload))
    credential = MqttCredential.objects.create(
        username="d1", site="cph", kind="desk", secret_hash="x", issued_at=timezone.now()
    )
    mqtt_payloads.flush_drops()
    with caplog.at_level(logging.WARNING, logger="labs.mqtt_payloads"):
        assert mqtt_router.dispatch(ACK, b'{"cmd_id": "x", "av": NaN, "ac": 200}') == []
        assert mqtt_router.dispatch(ACK, _raw({**GOOD_ACK, "av": 2**70})) == []
    assert handled == []
    assert mqtt_payloads.pending_drops() == {"d1": 2}
    assert mqtt_payloads.flush_drops() == 1  # one UPDATE for the device, however many drops
    credential.refresh_from_db()
    assert credential.dropped_messages == 2
    assert credential.last_drop_reason == "integer beyond 64 bits"
    assert [r.getMessage() for r in caplog.records] == [
        f"dropped MQTT message on {ACK!r}: json: NaN is not allowed",
        f"dropped MQTT message on {ACK!r}: integer beyond 64 bits",
    ]
    mqtt_router.dispatch(ACK, _raw(GOOD_ACK))
    assert handled == [GOOD_ACK]


def test_a_flood_of_bad_messages_logs_a_bounded_number_of_lines(monkeypatch, caplog):
    monkeypatch.setattr(mqtt_payloads, "_log_window_start", 0.0)
    monkeypatch.setattr(mqtt_payloads, "_held_back", 0)
    monkeypatch.setattr(mqtt_payloads, "_logged_in_window", 0)
    with caplog.at_level(logging.WARNING, logger="labs.mqtt_payloads"):
        for _ in range(500):
            mqtt_payloads.record_drop(ACK, "not JSON")
    mqtt_payloads._pending.clear()
    assert len(caplog.records) == mqtt_payloads.LOG_BURST


def test_skipping_the_walk_never_changes_what_is_accepted_or_why(monkeypatch):
    import random

    pick = random.Random(7).choice
    numbers = ["1", "-0", "1.5", "1e30", "-1e-400", "1e400", "-2E+309", "0.1e310", "9223372036854775807"]
    numbers += ["9223372036854775808", "-9223372036854775809", "123456789012345678901234", "1.7976931348623157e308"]
    strings = ['"a"', '"8e123"', '"1e400"', '"\\u0000"', '"\\ud800"', '"\\u00e6"', '"x\\\\u"', '"6f1c0e8e-5b7a"']

    def value(depth: int) -> str:
        kind = pick(["n", "s", "o", "a"] if depth < 10 else ["n", "s"])
        if kind == "n":
            return pick(numbers)
        if kind == "s":
            return pick(strings)
        if kind == "o":
            return "{" + ", ".join(f'"k{n}": {value(depth + 1)}' for n in range(pick([0, 1, 2]))) + "}"
        return "[" + ", ".join(value(depth + 1) for _ in range(pick([0, 1, 2]))) + "]"

    def outcome(raw: bytes) -> str:
        try:
            mqtt_payloads.check("labs/v1/cph/desk/d1/telemetry", raw)
            return "accepted"
        except Dropped as dropped:
            return dropped.reason

    texts = [("{" + f'"x": {value(2)}, "y": {value(2)}' + "}").encode() for _ in range(3_000)]
    skipping = [outcome(raw) for raw in texts]
    monkeypatch.setattr(mqtt_payloads, "_walk_needed", lambda raw, text: True)  # always walked
    assert [outcome(raw) for raw in texts] == skipping
    walks = {"NUL in a string", "lone surrogate in a string", "integer beyond 64 bits", "number overflows to infinity"}
    assert walks | {"nesting deeper than 8"} <= set(skipping)  # the texts reach every refusal of the walk
