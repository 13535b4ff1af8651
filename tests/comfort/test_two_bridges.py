"""Scale-out shown: two bridges (separate clients, one group of MQTT 5 shared subscriptions) on the project's
Mosquitto configuration and PostgreSQL. The outbox is published once (row claims), every device ack is recorded once
by one of the two, and nothing is lost across a broker restart in the middle (a private Mosquitto the test restarts:
the bridges' persistent sessions and their queued messages survive it)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from comfort import services
from comfort.choices import CommandState
from comfort.models import Command
from labs import mqtt
from labs.models import OutboxMessage
from labs.mqtt_bridge import run_in_thread
from tests.comfort.conftest import wait_until
from tests.comfort.factories import DeskFactory, DeviceFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

DEVICES = 300


class Observer:
    """A plain subscriber (the backend's account) counting live desired documents per topic."""

    def __init__(self, url: str) -> None:
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.create_client(role="t-observer", url=url)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("labs/v1/+/+/+/desired", 1)
        self.client.on_subscribe = lambda *args: ready.set()
        self.client.on_message = self.on_message
        assert mqtt.connect(self.client, url=url)
        assert ready.wait(5)

    def on_message(self, client, userdata, message) -> None:
        if not message.retain:
            with self.lock:
                self.counts[(message.topic, json.loads(message.payload)["v"])] += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_two_bridges_handle_each_ack_once_and_lose_nothing_across_a_broker_restart(own_mosquitto, zone, settings):
    settings.MQTT_BRIDGE_SHARED = True
    url = own_mosquitto.url
    desks = DeskFactory.create_batch(DEVICES, zone=zone)
    devices = [DeviceFactory(desk=desk) for desk in desks]
    commands = services.devices_desired_set_many(devices=devices, desired={"height_mm": 900}, reason={"type": "t"})
    observer = Observer(url)
    bridges = [
        run_in_thread(url=url, poll_s=0.02, shared=True, identifier=f"t-bridge-{n}", outbox_batch=50) for n in (1, 2)
    ]
    publisher = mqtt.create_client(role="t-devices", url=url)
    try:
        for bridge, _thread in bridges:
            wait_until(bridge.subscribed.is_set, timeout=10, message="both bridges subscribed")
        # 1. the outbox: published by the two bridges together, each row once
        wait_until(
            lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), timeout=30, message="outbox"
        )
        wait_until(lambda: len(observer.counts) >= DEVICES, timeout=10, message="every desired document seen")
        assert set(observer.counts.values()) == {1}, "a desired document was published twice"

        # 2. acks from the devices, half before and half right after a broker restart
        assert mqtt.connect(publisher, url=url)
        acks = [
            (
                device.topic("ack"),
                json.dumps({"cmd_id": str(c.cmd_id), "av": c.version, "ac": 200, "ad": "applied"}),
            )
            for device, c in zip(devices, commands, strict=True)
        ]
        half, three_quarters = len(acks) // 2, len(acks) * 3 // 4
        pks = [c.pk for c in commands]

        def publish(batch):
            for info in [publisher.publish(topic, payload, qos=1) for topic, payload in batch]:
                info.wait_for_publish(10)

        def recorded(count):
            return Command.objects.filter(pk__in=pks, state=CommandState.APPLIED).count() >= count

        # 2a. half the acks with the broker up: each handled exactly once, by one bridge or the other
        publish(acks[:half])
        wait_until(lambda: recorded(half), timeout=60, message="the first half recorded")
        time.sleep(0.5)
        handled = [bridge.handled for bridge, _ in bridges]
        assert sum(handled) == half, f"acks handled {handled}: each exactly once across the two bridges"
        assert all(h > 0 for h in handled), f"the shared subscription split the acks: {handled}"
        first_applied = dict(Command.objects.filter(pk__in=pks[:half]).values_list("pk", "applied_at"))

        # 2b. a quarter, then at once a broker restart (queued and in-flight messages are in its saved sessions),
        # then the last quarter after it
        publish(acks[half:three_quarters])
        own_mosquitto.restart(down_for=1.0)  # SIGTERM: sessions and queued messages saved, then restored
        wait_until(publisher.is_connected, timeout=20, message="the devices back on the broker")
        # Messages published after the restart reach the bridges once they have subscribed again (a device's message
        # in the gap before that is not guaranteed: see docs/scaling.md)
        for bridge, _thread in bridges:
            wait_until(bridge.subscribed.is_set, timeout=20, message="both bridges subscribed again")
        publish(acks[three_quarters:])
        wait_until(lambda: recorded(DEVICES), timeout=60, message="every ack recorded: none lost")
        # MQTT QoS 1 may deliver a message in flight at the restart twice; recording it again changes nothing
        assert dict(Command.objects.filter(pk__in=pks[:half]).values_list("pk", "applied_at")) == first_applied
        assert sum(bridge.handled for bridge, _ in bridges) >= DEVICES
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        observer.close()
        for bridge, thread in bridges:
            bridge.stop()
            thread.join(10)
