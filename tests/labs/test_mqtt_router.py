import pytest

from labs import mqtt_router, topics
from labs.topics import Publish

SCAN = b'{"scan_id": "1", "credential": {"type": "qr", "value": "v"}}'


@pytest.mark.parametrize(
    "topic_filter,topic,expected",
    [
        ("labs/v1/+/desk/+/ack", "labs/v1/cph/desk/d1/ack", True),
        ("labs/v1/+/desk/+/ack", "labs/v1/cph/hvac/z1/ack", False),
        ("labs/v1/#", "labs/v1/cph/desk/d1/ack", True),
        ("labs/v1/+/+/+/status", "labs/v1/cph/fan/f1/status/extra", False),
        ("labs/v1/+/reader/+/scan", "labs/v1/cph/reader/r1", False),
    ],
)
def test_topic_matching(topic_filter, topic, expected):
    assert topics.matches(topic_filter, topic) is expected


def test_it_dispatches_json_to_matching_handlers_and_collects_replies(monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    seen = []

    def on_scan(topic, payload):
        seen.append((topic, payload))
        return [Publish(topic.replace("scan", "decision"), {"allow": True})]

    mqtt_router.register("labs/v1/+/reader/+/scan", on_scan)
    replies = mqtt_router.dispatch("labs/v1/cph/reader/r1/scan", SCAN)
    assert seen == [("labs/v1/cph/reader/r1/scan", {"scan_id": "1", "credential": {"type": "qr", "value": "v"}})]
    assert replies == [Publish("labs/v1/cph/reader/r1/decision", {"allow": True})]
    assert mqtt_router.subscriptions() == ["labs/v1/+/reader/+/scan"]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe", b'{"scan_id": "1"}'])
def test_it_drops_bad_payloads_without_raising(monkeypatch, raw):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    called = []
    mqtt_router.register("labs/#", lambda t, p: called.append(p))
    assert mqtt_router.dispatch("labs/v1/cph/reader/r1/scan", raw) == []
    assert called == []


def test_only_device_leaves_of_the_contract_reach_handlers(monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    called = []
    mqtt_router.register("#", lambda t, p: called.append(t))
    for topic in ("labs/v1/x", "labs/v1/cph/desk/d1/desired", "labs/v1/cph/desk/d1/scan", "other/cph/desk/d1/ack"):
        assert mqtt_router.dispatch(topic, SCAN) == []
    assert called == []


def test_a_topic_is_matched_against_the_table_once_and_again_after_a_registration(monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    monkeypatch.setattr(mqtt_router, "_options", {})
    monkeypatch.setattr(mqtt_router, "_batch_handlers", {})
    matched = []
    real = topics.parts_match
    monkeypatch.setattr(topics, "parts_match", lambda f, t: matched.append("/".join(t)) or real(f, t))
    first, second = [], []
    mqtt_router.register("labs/v1/+/desk/+/status", lambda t, p: first.append(t))
    status = b'{"status": "online"}'
    messages = [(f"labs/v1/cph/desk/d{n % 3}/status", status) for n in range(30)]

    assert mqtt_router.dispatch_batch(messages).handled == 30
    assert len(first) == 30
    assert len(matched) == 3  # one table walk per distinct topic, not one per message and question

    mqtt_router.register("labs/v1/+/+/+/status", lambda t, p: second.append(t), coalesce=True)
    result = mqtt_router.dispatch_batch(messages)
    assert (result.handled, result.coalesced) == (3, 27)  # the new route's option holds at once
    assert len(second) == 3 and len(first) == 33
