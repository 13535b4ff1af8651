import json
import os
import socket
import threading
import time
from datetime import timedelta

import paho.mqtt.client as paho
import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from labs import mqtt, mqtt_router, outbox
from labs.models import OutboxMessage
from labs.mqtt_bridge import run_in_thread
from labs.topics import Publish
from tests.comfort import conftest as comfort_fixtures
from tests.comfort.conftest import free_port, wait_until

amqtt_broker = comfort_fixtures.amqtt_broker  # the embedded broker fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_outbox_nudge(settings):
    """The run may name a real broker (CI's MQTT_URL): only the nudge test publishes after commit."""
    settings.MQTT_OUTBOX_NUDGE = False


def test_it_parses_the_broker_url_with_user_and_password():
    address = mqtt.parse_url("mqtt://back%40end:p%3Ass@broker.local:1884")

    assert (address.host, address.port, address.username, address.password) == (
        "broker.local",
        1884,
        "back@end",
        "p:ss",
    )
    assert "p:ss" not in str(address)
    assert mqtt.parse_url("mqtts://h").port == 8883
    assert mqtt.parse_url("mqtt://h").port == 1883
    with pytest.raises(ValueError):
        mqtt.parse_url("http://h")


def test_client_ids_are_unique_per_process_and_role(settings):
    settings.MQTT_CLIENT_PREFIX = "labs-test"

    assert mqtt.client_id() == f"labs-test-{socket.gethostname()}-{os.getpid()}"
    assert mqtt.client_id("bridge").endswith(f"-{os.getpid()}-bridge")


def test_every_client_socket_sets_tcp_nodelay(amqtt_broker):
    client = mqtt.create_client(role="nodelay", url=amqtt_broker)
    assert mqtt.connect(client, url=amqtt_broker)
    try:
        assert client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        client.disconnect()
        client.loop_stop()


class Listener:
    def __init__(self, url: str, topic: str) -> None:
        self.messages = []
        ready = threading.Event()
        address = mqtt.parse_url(url)
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.username_pw_set(address.username, address.password)  # the backend's account
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert ready.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_rolled_back_transaction_leaves_nothing_to_publish():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.outbox_enqueue(Publish("labs/v1/x/desk/d/desired", {"v": 1}))
        raise RuntimeError

    assert not OutboxMessage.objects.exists()


def test_after_commit_the_committing_process_publishes_and_marks_sent(amqtt_broker, settings):
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    mqtt.publisher_close()
    listener = Listener(amqtt_broker, "labs/v1/test/#")
    try:
        with transaction.atomic():
            row = outbox.outbox_enqueue(Publish("labs/v1/test/desk/d1/desired", {"v": 1}, retain=True))
            assert row.sent_at is None
        wait_until(lambda: listener.messages, message="the message")
    finally:
        listener.close()
        mqtt.publisher_close()
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1
    assert listener.messages == [("labs/v1/test/desk/d1/desired", b'{"v":1}', False)]


def test_the_nudge_never_raises_when_the_broker_is_down(settings):
    settings.MQTT_URL = f"mqtt://127.0.0.1:{free_port()}"
    settings.MQTT_OUTBOX_NUDGE = True
    mqtt.publisher_close()
    with transaction.atomic():
        row = outbox.outbox_enqueue(Publish("labs/v1/test/desk/d1/desired", {"v": 1}))
    row.refresh_from_db()
    assert row.sent_at is None  # left for the bridge
    mqtt.publisher_close()


def test_the_bridge_drains_the_outbox_in_order_and_calls_the_sent_hook(amqtt_broker, monkeypatch):
    seen = []
    monkeypatch.setattr(outbox, "_sent_handlers", [])
    outbox.register_sent("labs/v1/+/+/+/desired", lambda messages, at: seen.extend(m.topic for m in messages))
    topics = [f"labs/v1/test/desk/d{n}/desired" for n in range(5)]
    for n, topic in enumerate(topics):
        outbox.outbox_enqueue(Publish(topic, {"v": n}, retain=True))
    outbox.outbox_enqueue(Publish("labs/v1/test/desk/d0/telemetry", {"n": 1}, qos=0))
    listener = Listener(amqtt_broker, "labs/v1/test/#")
    bridge, thread = run_in_thread(url=amqtt_broker, poll_s=0.02, outbox_grace=timedelta(0))
    try:
        wait_until(lambda: len(listener.messages) == 6, message="six messages")
    finally:
        bridge.stop()
        thread.join(10)
        listener.close()
    assert [m[0] for m in listener.messages] == [*topics, "labs/v1/test/desk/d0/telemetry"]
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    assert seen == topics


def test_the_bridge_dispatches_to_registered_handlers_and_sends_their_replies(amqtt_broker, monkeypatch):
    monkeypatch.setattr(mqtt_router, "_routes", [])

    def on_scan(topic, payload):
        return [Publish(topic.replace("/scan", "/decision"), {"scan_id": payload["scan_id"], "allow": True})]

    mqtt_router.register("labs/v1/+/reader/+/scan", on_scan)
    listener = Listener(amqtt_broker, "labs/v1/test/reader/r1/decision")
    bridge, thread = run_in_thread(url=amqtt_broker, poll_s=0.02)
    try:
        wait_until(bridge.subscribed.is_set, message="subscribed")
        scan = b'{"scan_id": "s1", "credential": {"type": "qr", "value": "v"}}'
        listener.client.publish("labs/v1/test/reader/r1/scan", scan, qos=1)
        wait_until(lambda: listener.messages, message="the decision")
    finally:
        bridge.stop()
        thread.join(10)
        listener.close()
    assert listener.messages[0][1] == b'{"scan_id":"s1","allow":true}'


def test_a_failed_publication_stays_pending_with_the_error():
    class Disconnected:
        def publish(self, *args, **kwargs):
            return _Info(rc=paho.MQTT_ERR_NO_CONN)

    row = outbox.outbox_enqueue(Publish("labs/v1/x/desk/d/desired", {"v": 1}))

    assert outbox.outbox_drain(client=Disconnected()) == 0
    row.refresh_from_db()
    assert row.sent_at is None and row.attempts == 1 and row.last_error


class _Info:
    def __init__(self, rc):
        self.rc = rc

    def wait_for_publish(self, timeout=None):
        return None

    def is_published(self):
        return False


def test_sent_messages_are_purged_after_a_day():
    row = outbox.outbox_enqueue(Publish("labs/v1/x/desk/d/desired", {"v": 1}))
    outbox.outbox_mark_sent(ids=[row.pk])
    pending = outbox.outbox_enqueue(Publish("labs/v1/x/desk/d/desired", {"v": 2}))

    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        assert outbox.outbox_purge() == 1
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [pending.pk]


def test_mqtt_broker_idles_until_sigterm_when_an_external_broker_is_configured():
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MQTT_URL": "mqtt://user:secret@127.0.0.1:1"}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(root / "manage.py"), "mqtt_broker"], env=env, cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        first_line = process.stdout.readline()
        time.sleep(0.5)
        assert process.poll() is None  # still there: honcho would stop everything if it exited
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert "external broker" in first_line
    assert "secret" not in first_line


def test_a_retained_row_left_behind_by_a_newer_one_already_sent_is_not_published_late():
    """After an outage the nudge publishes a device's newest desired document at once; the older row the bridge
    drains later must not replace it as the broker's retained document."""
    topic = "labs/v1/x/desk/d/desired"
    older = outbox.outbox_enqueue(Publish(topic, {"v": 1}, qos=1, retain=True))
    other = outbox.outbox_enqueue(Publish("labs/v1/x/desk/e/desired", {"v": 1}, qos=1, retain=True))
    newer = outbox.outbox_enqueue(Publish(topic, {"v": 2}, qos=1, retain=True))
    outbox.outbox_mark_sent(ids=[newer.pk])  # the nudge published it
    published = []

    class Client:
        def publish(self, topic, payload, qos=0, retain=False):
            published.append(topic)
            return _Published()

    assert outbox.outbox_drain(client=Client()) == 1
    assert published == ["labs/v1/x/desk/e/desired"]
    older.refresh_from_db()
    other.refresh_from_db()
    assert older.sent_at is not None and older.last_error == outbox.SUPERSEDED_DETAIL
    assert other.sent_at is not None and other.last_error == ""


class _Published:
    rc = 0

    def wait_for_publish(self, timeout=None):
        return None

    def is_published(self):
        return True


@pytest.mark.postgres
def test_a_large_nudge_is_handed_to_the_bookkeeper_and_every_row_is_marked_sent(amqtt_broker, settings, monkeypatch):
    """A fan-out's chunk: the committing thread hands the messages to the client and goes on; the bookkeeper thread
    waits for the PUBACKs and marks the rows sent."""
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    settings.MQTT_OUTBOX_NUDGE_HAND_OFF = 3
    booked_on = []
    real = outbox._bookkeep
    monkeypatch.setattr(
        outbox, "_bookkeep", lambda m, s: (booked_on.append(threading.current_thread().name), real(m, s))
    )
    mqtt.publisher_close()
    listener = Listener(amqtt_broker, "labs/v1/test/#")
    try:
        with transaction.atomic():
            rows = outbox.outbox_enqueue_many(Publish(f"labs/v1/test/desk/d{n}/desired", {"v": n}) for n in range(5))
        assert outbox.outbox_settled(timeout=10)
        wait_until(lambda: len(listener.messages) == 5, message="the five messages")
        with transaction.atomic():  # a small one is booked by the committing thread, as before
            small = outbox.outbox_enqueue(Publish("labs/v1/test/desk/d9/desired", {"v": 9}))
        wait_until(lambda: len(listener.messages) == 6, message="the small one")
    finally:
        listener.close()
        mqtt.publisher_close()
    assert booked_on == ["outbox-bookkeeper", threading.current_thread().name]
    assert [t for t, _, _ in listener.messages] == [f"labs/v1/test/desk/d{n}/desired" for n in (0, 1, 2, 3, 4, 9)]
    assert not OutboxMessage.objects.filter(pk__in=[r.pk for r in [*rows, small]], sent_at__isnull=True).exists()


@pytest.mark.postgres
def test_a_small_nudge_waits_for_a_large_one_still_being_handed_over_so_nothing_overtakes(
    amqtt_broker, settings, monkeypatch
):
    """Large nudges are handed to the client by a thread while the committing thread goes on; a small nudge that
    commits meanwhile is published after them, so a device (and the broker's retained copy) ends on the newest."""
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    settings.MQTT_OUTBOX_NUDGE_HAND_OFF = 3
    real = outbox._hand_over

    def slow(client, messages):
        if threading.current_thread().name == "outbox-hand-over":
            time.sleep(0.3)
        return real(client, messages)

    monkeypatch.setattr(outbox, "_hand_over", slow)
    mqtt.publisher_close()
    listener = Listener(amqtt_broker, "labs/v1/test/desk/+/desired")
    try:
        with transaction.atomic():
            outbox.outbox_enqueue_many(Publish(f"labs/v1/test/desk/o{n}/desired", {"v": 1}) for n in range(4))
        with transaction.atomic():  # newer, for the same device, committed while the first is being handed over
            newer = outbox.outbox_enqueue(Publish("labs/v1/test/desk/o0/desired", {"v": 2}))
        assert outbox.outbox_settled(timeout=10)
        wait_until(lambda: len(listener.messages) == 5, message="the five messages")
    finally:
        listener.close()
        mqtt.publisher_close()
    assert [(t, json.loads(p)["v"]) for t, p, _ in listener.messages if t.endswith("/o0/desired")] == [
        ("labs/v1/test/desk/o0/desired", 1),
        ("labs/v1/test/desk/o0/desired", 2),
    ]
    assert OutboxMessage.objects.get(pk=newer.pk).sent_at is not None


@pytest.mark.postgres
def test_a_small_nudge_behind_a_stuck_hand_over_is_left_for_the_bridge(amqtt_broker, settings, monkeypatch):
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    settings.MQTT_OUTBOX_NUDGE_HAND_OFF = 3
    settings.MQTT_OUTBOX_NUDGE_TIMEOUT = 0.2
    release = threading.Event()
    real = outbox._hand_over
    monkeypatch.setattr(outbox, "_hand_over", lambda client, messages: (release.wait(10), real(client, messages))[1])
    mqtt.publisher_close()
    try:
        with transaction.atomic():
            outbox.outbox_enqueue_many(Publish(f"labs/v1/test/desk/s{n}/desired", {"v": 1}) for n in range(3))
        with transaction.atomic():
            small = outbox.outbox_enqueue(Publish("labs/v1/test/desk/s0/desired", {"v": 2}))
        assert OutboxMessage.objects.get(pk=small.pk).sent_at is None  # not published ahead of the stuck one
        release.set()
        assert outbox.outbox_settled(timeout=10)
    finally:
        release.set()
        mqtt.publisher_close()
    assert OutboxMessage.objects.get(pk=small.pk).sent_at is None  # the bridge's to publish, in id order


@pytest.mark.postgres
def test_a_bridge_draining_while_a_large_nudge_waits_for_its_pubacks_does_not_publish_its_rows(
    amqtt_broker, settings, monkeypatch
):
    """The bookkeeper claims the handed-off rows at once: however long the PUBACKs take, a bridge skips them (the
    fan-out bench had 3,750 of 10,000 desired documents published twice before the claim)."""
    settings.MQTT_URL = amqtt_broker
    settings.MQTT_OUTBOX_NUDGE = True
    settings.MQTT_OUTBOX_NUDGE_HAND_OFF = 3
    waiting, release = threading.Event(), threading.Event()
    real = outbox._await_published

    def slow(pending, timeout):
        waiting.set()
        release.wait(10)
        return real(pending, timeout)

    monkeypatch.setattr(outbox, "_await_published", slow)
    mqtt.publisher_close()
    try:
        with transaction.atomic():
            rows = outbox.outbox_enqueue_many(Publish(f"labs/v1/test/desk/e{n}/desired", {"v": n}) for n in range(4))
        assert waiting.wait(10)
        with transaction.atomic():  # a bridge's round, as the grace has passed
            claimed = outbox.outbox_claim(limit=100)
        release.set()
        assert outbox.outbox_settled(timeout=10)
    finally:
        release.set()
        mqtt.publisher_close()
    assert claimed == []
    assert not OutboxMessage.objects.filter(pk__in=[r.pk for r in rows], sent_at__isnull=True).exists()
    assert set(OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).values_list("attempts", flat=True)) == {1}
