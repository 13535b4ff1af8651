"""labs.mqtt.Client: paho's client without its walk of every held message on every acknowledgement."""

from __future__ import annotations

import collections
from unittest import mock

import paho.mqtt.client as paho

from labs import mqtt


class _CountingValues(collections.OrderedDict):
    walks = 0

    def values(self):
        type(self).walks += 1
        return super().values()


def _held(client: mqtt.Client, count: int, *, queued: int = 0) -> list[paho.MQTTMessage]:
    client._out_messages = _CountingValues()
    _CountingValues.walks = 0
    messages = []
    for mid in range(1, count + queued + 1):
        message = paho.MQTTMessage(mid, b"labs/v1/s/desk/d/desired")
        message.qos = 1
        message.state = paho.mqtt_ms_wait_for_puback if mid <= count else paho.mqtt_ms_queued
        client._out_messages[mid] = message
        messages.append(message)
    client._inflight_messages = count
    return messages


def test_an_acknowledgement_with_nothing_queued_does_not_walk_the_held_messages():
    client = mqtt.create_client(role="test-inflight", url="mqtt://127.0.0.1:1")
    assert isinstance(client, mqtt.Client) and client.max_inflight_messages == mqtt.MAX_INFLIGHT
    _held(client, 5_000)
    client._inflight_messages -= 1  # one PUBACK came in
    client._out_messages.popitem(last=False)
    with mock.patch.object(client, "_send_publish") as send:
        assert client._update_inflight() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert _CountingValues.walks == 0
    send.assert_not_called()


def test_a_queued_message_is_still_sent_when_a_slot_frees():
    client = mqtt.create_client(role="test-inflight", url="mqtt://127.0.0.1:1", max_inflight=3)
    messages = _held(client, 3, queued=2)
    client._out_messages.pop(1)  # its PUBACK came in: a slot is free
    client._inflight_messages -= 1
    with mock.patch.object(client, "_send_publish", return_value=paho.MQTTErrorCode.MQTT_ERR_SUCCESS) as send:
        assert client._update_inflight() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [call.args[0] for call in send.call_args_list] == [4]  # the first queued one, in order
    assert messages[3].state == paho.mqtt_ms_wait_for_puback and messages[4].state == paho.mqtt_ms_queued
    assert client._inflight_messages == 3 and _CountingValues.walks == 1
