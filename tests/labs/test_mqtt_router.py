import random

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


@pytest.mark.django_db  # dispatch_batch opens a transaction: the test database, never the real one
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
    # One table walk for the three topics: they differ only where the filters have wildcards (the device ids), so
    # they share a shape. Not one walk per message and question, nor one per device.
    assert len(matched) == 1
    other_kind = "labs/v1/cph/hvac/z1/status"  # differs at a literal level of the filter: a shape of its own
    assert mqtt_router.dispatch_batch([(other_kind, status)]).handled == 1
    assert len(first) == 30 and len(matched) == 2
    assert mqtt_router._plan(other_kind).routes == () and mqtt_router._plan("labs/v1/osl/desk/d9/status").routes

    mqtt_router.register("labs/v1/+/+/+/status", lambda t, p: second.append(t), coalesce=True)
    result = mqtt_router.dispatch_batch(messages)
    assert (result.handled, result.coalesced) == (3, 27)  # the new route's option holds at once
    assert len(second) == 3 and len(first) == 33


def test_a_topic_s_plan_by_shape_is_what_matching_every_filter_gives(monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    monkeypatch.setattr(mqtt_router, "_options", {})
    monkeypatch.setattr(mqtt_router, "_batch_handlers", {})

    def handler(t, p):
        return None

    filters = ["labs/v1/+/desk/+/ack", "labs/v1/+/+/+/reported", "labs/#", "labs/v1/cph/#", "+/v1/+/reader/+/scan", "#"]
    for topic_filter in filters:
        mqtt_router.register(
            topic_filter, handler, alone=topic_filter.endswith("scan"), coalesce="reported" in topic_filter
        )
    mqtt_router.register_batch("labs/v1/+/+/+/reported", lambda items: None, replaces=handler)
    pick = random.Random(14).choice
    choices = [["labs", "x", ""], ["v1", "v2"], ["cph", "osl"], ["desk", "reader", "hvac"], ["d1", "r2", "+"]]
    choices.append(["ack", "reported", "scan", "status"])
    seen = set()
    for n in range(3_000):
        topic = "/".join(pick(level) for level in choices[: 1 + n % 7])
        if n % 3 == 0:  # and some of any depth, from any level's words
            topic = "/".join(pick(pick(choices)) for _ in range(1 + n % 9))
        plan = mqtt_router._plan(topic)
        expected = tuple((f, h) for f, h in mqtt_router._routes if topics.matches(f, topic))
        assert plan.routes == expected, topic
        assert plan.alone == any(f.endswith("scan") for f, _ in expected), topic
        assert plan.coalesce == any("reported" in f for f, _ in expected), topic
        assert plan.batch_filter == (
            "labs/v1/+/+/+/reported" if topics.matches("labs/v1/+/+/+/reported", topic) else None
        )
        seen.add(tuple(f for f, _ in expected))
    assert len(seen) >= 6  # the topics reach the filters alone and together
