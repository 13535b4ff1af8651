"""labs.mqtt.Client: paho's client without its walk of held messages on every acknowledgement, its read per byte,
its send per packet and its wake-up per packet queued by its own thread."""

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


# --- reads served from a buffer, packets written together, no wake-up from the network thread ------------------------


def _publish_packet(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 QoS 0 PUBLISH as a broker sends it (remaining length under 128 bytes)."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + payload
    assert len(body) < 128
    return bytes([0x30, len(body)]) + body


def _client_on(sock) -> tuple[mqtt.Client, list[tuple[str, bytes]]]:
    client = mqtt.create_client(role="test-buffer", url="mqtt://127.0.0.1:1")
    received = []
    client.on_message = lambda c, userdata, message: received.append((message.topic, message.payload))
    sock.setblocking(False)
    client._sock = sock
    return client, received


class _CountingSocket:
    def __init__(self, sock) -> None:
        self.sock, self.recvs = sock, 0

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        return self.sock.recv(size)

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        self.sock.close()


def test_one_read_round_takes_every_packet_that_came_in_one_segment():
    import socket

    ours, broker = socket.socketpair()
    counting = _CountingSocket(ours)
    client, received = _client_on(counting)
    broker.sendall(b"".join(_publish_packet(f"labs/v1/s/desk/d{n}/ack", b'{"n": %d}' % n) for n in range(50)))
    assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [(f"labs/v1/s/desk/d{n}/ack", b'{"n": %d}' % n) for n in range(50)]  # all, in order
    assert counting.recvs <= 2  # paho alone: one packet per round, three or more recv calls per packet
    assert not client._buffered()


def test_a_packet_split_across_segments_arrives_once_and_whole():
    import socket

    ours, broker = socket.socketpair()
    client, received = _client_on(ours)
    first, second = _publish_packet("labs/v1/s/desk/a/ack", b"one"), _publish_packet("labs/v1/s/desk/b/ack", b"two")
    broker.sendall(first + second[:5])
    client.loop_read()
    assert received == [("labs/v1/s/desk/a/ack", b"one")]
    broker.sendall(second[5:])
    client.loop_read()
    assert received == [("labs/v1/s/desk/a/ack", b"one"), ("labs/v1/s/desk/b/ack", b"two")]


def test_a_new_connection_never_reads_what_the_old_one_left_buffered():
    import socket

    old, old_broker = socket.socketpair()
    client, received = _client_on(old)
    client._read_socket, client._read_buffer, client._read_position = old, b"\x30\x99stale", 0
    new, new_broker = socket.socketpair()
    new.setblocking(False)
    client._sock = new  # paho reconnected
    new_broker.sendall(_publish_packet("labs/v1/s/desk/a/ack", b"fresh"))
    client.loop_read()
    assert received == [("labs/v1/s/desk/a/ack", b"fresh")]


class _Recorder:
    """A socket that takes at most ``limit`` bytes a call and records each send."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.sends: list[bytes] = []
        self.limit = limit

    def close(self) -> None:
        pass

    def send(self, data) -> int:
        taken = bytes(data[: self.limit])
        self.sends.append(taken)
        return len(taken)


def _queue(client: mqtt.Client, command: int, packet: bytes, qos: int = 1, info=None) -> None:
    client._out_packet.append(
        {"command": command, "mid": 1, "qos": qos, "pos": 0, "to_process": len(packet), "packet": packet, "info": info}
    )


def test_packets_that_need_nothing_after_their_write_go_out_in_one_send_in_order():
    client = mqtt.create_client(role="test-write", url="mqtt://127.0.0.1:1")
    client._sock = recorder = _Recorder()
    packets = [bytes([0x40, 2, 0, n]) for n in range(1, 101)]  # 100 PUBACKs
    for packet in packets:
        _queue(client, paho.PUBACK, packet)
    assert client.loop_write() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert recorder.sends == [b"".join(packets)]
    assert not client._out_packet


def test_a_partial_write_keeps_the_rest_in_order_for_the_next_round():
    client = mqtt.create_client(role="test-write", url="mqtt://127.0.0.1:1")
    client._sock = recorder = _Recorder(limit=7)
    packets = [bytes([0x40, 2, 0, n]) for n in range(1, 6)]
    for packet in packets:
        _queue(client, paho.PUBACK, packet)
    while client._out_packet:
        client.loop_write()
    assert b"".join(recorder.sends) == b"".join(packets)


def test_a_qos0_publish_is_written_on_its_own_and_marked_published():
    client = mqtt.create_client(role="test-write", url="mqtt://127.0.0.1:1")
    client._sock = recorder = _Recorder()
    info = paho.MQTTMessageInfo(7)
    _queue(client, paho.PUBACK, b"\x40\x02\x00\x01")
    _queue(client, paho.PUBACK, b"\x40\x02\x00\x02")
    _queue(client, paho.PUBLISH, b"\x30\x03\x00\x01t", qos=0, info=info)
    _queue(client, paho.PUBACK, b"\x40\x02\x00\x03")
    client.loop_write()
    assert recorder.sends == [b"\x40\x02\x00\x01\x40\x02\x00\x02", b"\x30\x03\x00\x01t", b"\x40\x02\x00\x03"]
    assert info.is_published()


def test_only_other_threads_wake_the_network_thread_for_a_packet():
    import threading

    client = mqtt.create_client(role="test-wake", url="mqtt://127.0.0.1:1")
    client._sockpairW = wake = mock.Mock()
    client._thread = threading.current_thread()  # this test plays paho's network thread
    client._packet_queue(paho.PUBACK, b"\x40\x02\x00\x01", 1, 1)
    wake.send.assert_not_called()
    assert client.want_write()  # the network thread's next round writes it

    other = threading.Thread(target=client._packet_queue, args=(paho.PUBACK, b"\x40\x02\x00\x02", 2, 1))
    other.start()
    other.join()
    wake.send.assert_called_once()
    assert [p["packet"] for p in client._out_packet] == [b"\x40\x02\x00\x01", b"\x40\x02\x00\x02"]


# --- MQTT 5 PUBLISH without properties: no Properties object, no Condition, the same message ----------------------


def _v5_publish(topic: bytes, payload: bytes, *, qos: int, mid: int = 7, retain=False, dup=False, props=b"\x00"):
    """An MQTT 5 PUBLISH's command byte and body (after the remaining length), as a broker sends it."""
    header = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"") + props + payload
    return header, body


def _received(client: paho.Client, header: int, body: bytes) -> tuple[paho.MQTTErrorCode, dict | None, list[int]]:
    """What on_message saw of one incoming PUBLISH and the PUBACKs sent for it."""
    seen = []
    client.on_message = lambda c, userdata, message: seen.append(message)
    client._in_packet = {**client._in_packet, "command": header, "packet": bytearray(body)}
    with mock.patch.object(client, "_send_puback", return_value=paho.MQTTErrorCode.MQTT_ERR_SUCCESS) as puback:
        rc = client._handle_publish()
    if not seen:
        return rc, None, [call.args[0] for call in puback.call_args_list]
    message = seen[0]
    fields = {
        "type": type(message).__name__,
        "topic": message.topic,
        "payload": message.payload,
        "payload_type": type(message.payload),
        "qos": message.qos,
        "mid": message.mid,
        "retain": message.retain,
        "dup": message.dup,
        "properties": None if message.properties is None else message.properties.json(),
        "info_mid": message.info.mid,
        "timestamp": message.timestamp > 0,
    }
    return rc, fields, [call.args[0] for call in puback.call_args_list]


def _v5_clients() -> tuple[paho.Client, paho.Client]:
    ours = mqtt.create_client(role="test-v5", url="mqtt://127.0.0.1:1", mqtt5=True)
    stock = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    return ours, stock


def test_an_mqtt5_publish_without_properties_is_the_message_paho_gives_without_its_objects():
    ours, stock = _v5_clients()
    cases = [
        _v5_publish(b"labs/v1/cph/desk/d-1/ack", b'{"v": 3}', qos=1, mid=4242),
        _v5_publish(b"labs/v1/cph/desk/d-1/reported", b'{"v": 3}', qos=1, mid=9, retain=True, dup=True),
        _v5_publish(b"labs/v1/cph/hvac/z/status", b"", qos=0),
        _v5_publish("labs/v1/cph/desk/æ/ack".encode(), b"\xff\x00", qos=1, mid=65535),
    ]
    for header, body in cases:
        rc, fields, pubacks = _received(ours, header, body)
        stock_rc, stock_fields, stock_pubacks = _received(stock, header, body)
        assert fields["type"] == "ReceivedMessage" and stock_fields["type"] == "MQTTMessage"
        fields.pop("type"), stock_fields.pop("type")
        assert (rc, fields, pubacks) == (stock_rc, stock_fields, stock_pubacks)
    assert _received(ours, *cases[0])[2] == [4242]  # QoS 1: acknowledged


def test_a_received_message_makes_its_properties_once_and_takes_a_new_value():
    ours, _ = _v5_clients()
    seen = []
    ours.on_message = lambda c, userdata, message: seen.append(message)
    header, body = _v5_publish(b"labs/v1/cph/desk/d-1/ack", b"{}", qos=0)
    ours._in_packet = {**ours._in_packet, "command": header, "packet": bytearray(body)}
    ours._handle_publish()
    message = seen[0]
    assert message.properties is message.properties  # made on first use, then kept
    message.properties = None
    assert message.properties is None


def test_a_publish_with_properties_qos2_or_a_malformed_one_goes_through_paho():
    ours, stock = _v5_clients()
    expiry = bytes([5, 0x02, 0, 0, 0, 60])  # property length 5: message expiry interval 60 s
    cases = [
        _v5_publish(b"labs/v1/cph/desk/d-1/ack", b"{}", qos=1, props=expiry),
        _v5_publish(b"labs/v1/cph/desk/d-1/ack", b"{}", qos=0, props=expiry),
    ]
    for header, body in cases:
        rc, fields, pubacks = _received(ours, header, body)
        stock_rc, stock_fields, stock_pubacks = _received(stock, header, body)
        assert fields["type"] == "MQTTMessage" and fields["properties"] == {"MessageExpiryInterval": 60}
        fields.pop("type"), stock_fields.pop("type")
        assert (rc, fields, pubacks) == (stock_rc, stock_fields, stock_pubacks)
    with mock.patch.object(
        paho.Client, "_handle_publish", return_value=paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    ) as paho_way:
        for header, body in [
            _v5_publish(b"labs/v1/cph/desk/d-1/ack", b"{}", qos=2),  # QoS 2: paho keeps it until PUBREL
            _v5_publish(b"", b"{}", qos=1),  # empty topic: a topic alias or a protocol error
            (0x32, b"\x00\x30labs"),  # topic length past the packet's end
            (0x32, b"\x00\x04labs\x00"),  # no room for the property length
        ]:
            ours._in_packet = {**ours._in_packet, "command": header, "packet": bytearray(body)}
            ours._handle_publish()
    assert paho_way.call_count == 4


def test_an_mqtt311_client_and_one_that_logs_keep_paho_s_own_decoding():
    v311 = mqtt.create_client(role="test-v311", url="mqtt://127.0.0.1:1")
    packet = _publish_packet("labs/v1/cph/desk/d-1/ack", b"{}")
    header, body = packet[0], packet[2:]
    assert _received(v311, header, body)[1]["type"] == "MQTTMessage"
    logging_client, _ = _v5_clients()
    logging_client.enable_logger()
    assert _received(logging_client, *_v5_publish(b"labs/v1/a/desk/b/ack", b"{}", qos=0))[1]["type"] == "MQTTMessage"
