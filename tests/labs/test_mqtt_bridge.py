"""The bridge under a flood of garbage: its memory stays flat, nothing raises, and good messages still get through."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from types import SimpleNamespace

import pytest
from django.utils import timezone

from labs import mqtt_payloads, mqtt_router
from labs.models import MqttCredential
from labs.mqtt_bridge import Bridge

pytestmark = pytest.mark.django_db(transaction=True)

TOPIC = "labs/v1/cph/desk/flood-1/ack"
STATUS = "labs/v1/cph/desk/flood-1/status"
FLOOD_BYTES = 16 * 1024 * 1024


def garbage():
    """16 MB of what a broken or hostile device might send, made as it is sent (the test holds none of it)."""
    kinds = [
        lambda n: b"\xff\xfe" * (n // 2),  # not UTF-8
        lambda n: b"[" * n,  # deep nesting
        lambda n: b'{"a": ' + b"[" * (n // 2 - 10) + b"]" * (n // 2 - 10) + b"}",
        lambda n: ('{"cmd_id": "x", "av": NaN, "ac": 200, "ad": "' + "a" * (n - 60) + '"}').encode(),
        lambda n: ('{"ad": "' + "\\u0000" * (n // 7) + '"}').encode(),
        lambda n: ('{"av": ' + "9" * min(n, 4000) + "}").encode(),
        lambda n: b"x" * (4 * n),  # over the size limit
    ]
    sent = 0
    index = 0
    while sent < FLOOD_BYTES:
        payload = kinds[index % len(kinds)](60_000)
        sent += len(payload)
        index += 1
        yield payload


def _message(topic: str, payload: bytes):
    return SimpleNamespace(topic=topic, payload=payload)


def test_a_16_mb_flood_of_garbage_keeps_the_bridge_flat_and_working(monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])
    handled = []
    mqtt_router.register("labs/v1/+/+/+/status", lambda topic, payload: handled.append(payload))
    credential = MqttCredential.objects.create(
        username="flood-1", site="cph", kind="desk", secret_hash="x", issued_at=timezone.now()
    )
    mqtt_payloads.flush_drops()
    # No broker: the test plays paho's network thread, calling the bridge's on_message as paho would.
    bridge = Bridge(poll_s=0.01, inbox_max_bytes=1024 * 1024)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            bridge.step()

    server = threading.Thread(target=serve, daemon=True)
    tracemalloc.start()
    try:
        server.start()
        time.sleep(0.2)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = 0
        for payload in garbage():
            bridge._on_message(None, None, _message(TOPIC, payload))
            count += 1
        deadline = time.monotonic() + 60
        while bridge.inbox.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)
        bridge._on_message(None, None, _message(STATUS, json.dumps({"status": "online"}).encode()))
        while not handled and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        stop.set()
        bridge.stop()
        server.join(10)
        tracemalloc.stop()
    assert handled == [{"status": "online"}]  # a good message after the flood is handled
    # 16 MB went through; the bridge never held more than its queue budget plus one message being parsed.
    assert peak - baseline < 6 * 1024 * 1024, f"peak grew by {(peak - baseline) / 1e6:.1f} MB"
    assert current - baseline < 1024 * 1024
    credential.refresh_from_db()
    assert credential.dropped_messages == count
    assert bridge.handled == count + 1
