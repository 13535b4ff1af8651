"""The one place the backend makes MQTT clients: paho clients with TCP_NODELAY, unique ids, reconnect with backoff.

* ``MQTT_URL`` (``mqtt://user:password@host:port``, ``mqtts://`` for TLS) names the broker; without it the embedded
  amqtt broker on ``127.0.0.1:MQTT_EMBEDDED_PORT`` is used.
* Client ids are ``<MQTT_CLIENT_PREFIX>-<hostname>-<pid>`` (plus a role suffix when one process holds more than one
  client), built when the client is created, so two gunicorn workers or the autoreloader never share an id and kick
  each other off. Create clients after fork: never at import time.
* Every socket sets TCP_NODELAY: without it a QoS 1 round trip on loopback costs ~88 ms (Nagle + delayed ACK).
* paho's threaded loop uses ``select()``, which stops working past ~1000 file descriptors: processes that hold
  thousands of connections (the simulators) use the asyncio client gmqtt instead.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from django.conf import settings
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

logger = logging.getLogger(__name__)

RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def __str__(self) -> str:  # never shows the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_url(url: str | None = None) -> BrokerAddress:
    """Split an ``mqtt://user:password@host:port`` URL (default: settings.MQTT_URL); user and password are %-decoded."""
    parts = urlsplit(url or settings.MQTT_URL)
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, not {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def client_id(role: str | None = None) -> str:
    """``<prefix>-<hostname>-<pid>[-<role>]``; MQTT 3.1.1 allows 23 bytes at minimum, brokers here accept 65535."""
    base = f"{settings.MQTT_CLIENT_PREFIX}-{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{role}" if role else base


def set_nodelay(sock) -> None:
    """Turn Nagle's algorithm off on a TCP socket (and on the socket under an SSL wrapper)."""
    raw = getattr(sock, "_sock", sock)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # a Unix socket or a websocket wrapper: nothing to do
        logger.debug("TCP_NODELAY not applicable to %r", sock)


def _on_socket_open(client, userdata, sock) -> None:
    set_nodelay(sock)


# QoS 1 publications in flight at once per client (awaiting their PUBACK). High enough that a fan-out's burst is sent
# at once rather than queued in paho; well under the 65,535 packet ids a client has.
MAX_INFLIGHT = 20_000


# Bytes read from the socket at once (paho reads a packet's first byte, then its length a byte at a time, then the
# rest: three or more recv calls per message) and most packets written at once (paho sends each packet on its own).
READ_CHUNK = 64 * 1024
WRITE_COALESCE = 256


class Client(paho.Client):
    """paho's client with three costs of a busy connection taken out; paho's own code does everything else.

    * **The walk on every acknowledgement.** On each PUBACK paho looks through all the messages it holds for one
      still queued (waiting for a free in-flight slot): O(n) per acknowledgement, O(n^2) for a burst; 15 % of the
      publishing process's CPU in a 10,000-device fan-out (bench/comfort.py, py-spy). paho holds QoS > 0 messages
      only, each either in flight or queued, so one is queued only when it holds more messages than are in flight:
      otherwise there is nothing to look for.
    * **A system call per byte.** paho reads each packet with three or more ``recv`` calls (the command byte, the
      length byte by byte, the rest) and one ``select`` per packet. Here ``recv`` takes up to ``READ_CHUNK`` bytes
      into a buffer the reads are served from, and a read round goes on while the buffer holds bytes, so a burst of
      messages costs a few system calls instead of four or more each. The buffer belongs to the socket it came
      from: a new connection starts empty.
    * **A system call per packet sent.** Packets that need nothing done once they are written (every packet but a
      QoS 0 PUBLISH, whose ``on_publish`` follows its write, and DISCONNECT) are joined, up to ``WRITE_COALESCE`` at
      a time, and sent with one ``send``: the bridge's PUBACKs for a batch of device messages, a fan-out's burst of
      QoS 1 documents. A partial write keeps the rest of the joined bytes, in order, as paho keeps a packet's.
      Whatever was in flight when a connection drops is sent again by paho from its own records, as before.
    * **A wake-up per packet queued by the network thread itself.** paho writes a byte to a socket pair for every
      packet queued, to wake its own ``select()``; a PUBACK is queued by the network thread while it reads, and once
      the pair's buffer is full every further wake-up raises and catches ``BlockingIOError`` (13 % of the bridge's
      CPU in the fan-out, py-spy). From the network thread no wake-up is needed: its next round sees the packets
      waiting (``want_write()``) and writes them. Other threads still wake it.
    * **Objects nobody reads on every message received over MQTT 5.** paho builds a ``Properties`` object for each
      PUBLISH (setting each of its attributes through ``__setattr__``) and a ``threading.Condition`` for the message's
      publish-side ``info``: 9 % of the bridge's CPU taking in acks (py-spy), which a bare subscriber on MQTT 3.1.1
      does not pay. A QoS 0 or 1 PUBLISH without properties (what devices send) is decoded here into a
      :class:`ReceivedMessage` that makes either object only if it is asked for; anything else (properties, QoS 2,
      a malformed packet, a client with logging on) goes through paho's own ``_handle_publish``."""

    _read_buffer: bytes = b""
    _read_position: int = 0
    _read_socket: object = None

    def _update_inflight(self) -> paho.MQTTErrorCode:
        if len(self._out_messages) <= self._inflight_messages:
            return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._update_inflight()

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_socket is not self._sock:  # another connection: what is buffered is not its own
            self._read_buffer, self._read_position, self._read_socket = b"", 0, self._sock
        if self._read_position >= len(self._read_buffer):
            data = super()._sock_recv(max(bufsize, READ_CHUNK))
            if len(data) <= bufsize:
                return data
            self._read_buffer, self._read_position = data, 0
        start = self._read_position
        self._read_position = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start : self._read_position]

    def _buffered(self) -> bool:
        return self._read_socket is self._sock and self._read_position < len(self._read_buffer)

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        # paho's select() cannot see the bytes already buffered here: read on until they are used up.
        rc = super().loop_read(max_packets)
        while rc == paho.MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._buffered():
            rc = super().loop_read(max_packets)
        return rc

    def _packet_queue(self, command, packet, mid, qos, info=None) -> paho.MQTTErrorCode:
        if self._thread is None or threading.current_thread() is not self._thread:
            return super()._packet_queue(command, packet, mid, qos, info)
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        return paho.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> paho.MQTTErrorCode:
        packet = self._in_packet["packet"]
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if self._protocol != paho.MQTTv5 or qos > 1 or self.on_log is not None or self._logger is not None:
            return super()._handle_publish()
        topic_end = 2 + int.from_bytes(packet[0:2], "big")
        mid = int.from_bytes(packet[topic_end : topic_end + 2], "big") if qos else 0
        properties_at = topic_end + 2 if qos else topic_end
        # An empty topic (a topic alias, or a protocol error), properties present, or a packet too short: paho's way.
        if topic_end == 2 or len(packet) <= properties_at or packet[properties_at] != 0:
            return super()._handle_publish()
        message = ReceivedMessage(mid, bytes(packet[2:topic_end]), bytes(packet[properties_at + 1 :]), header)
        message.timestamp = paho.time_func()
        self._handle_on_message(message)
        if qos == 0 or self._manual_ack:
            return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._send_puback(mid)

    def _packet_write(self) -> paho.MQTTErrorCode:
        out = self._out_packet
        if len(out) > 1 and _joinable(out[0]) and _joinable(out[1]):
            joined = []
            while out and len(joined) < WRITE_COALESCE and _joinable(out[0]):
                joined.append(out.popleft())
            data = b"".join(packet["packet"][packet["pos"] :] for packet in joined)
            # One packet to paho: written whole or in part, the rest stays at the front like any packet's rest.
            out.appendleft(
                {
                    "command": paho.PUBACK,
                    "mid": 0,
                    "qos": 1,
                    "pos": 0,
                    "to_process": len(data),
                    "packet": data,
                    "info": None,
                }
            )
        return super()._packet_write()


_NOT_MADE = object()


class ReceivedMessage(paho.MQTTMessage):
    """A received MQTT 5 PUBLISH that carried no properties (:meth:`Client._handle_publish`): the same message paho
    gives, but its empty ``properties`` and its publish-side ``info`` are made on first use."""

    __slots__ = ("_properties", "_info")

    def __init__(self, mid: int, topic: bytes, payload: bytes, header: int) -> None:  # paho's own __init__ not called
        self.timestamp = 0.0
        self.state = paho.mqtt_ms_invalid
        self.mid = mid
        self._topic = topic
        self.payload = payload
        self.qos = (header & 0x06) >> 1
        self.dup = bool(header & 0x08)
        self.retain = bool(header & 0x01)
        self._properties = _NOT_MADE
        self._info = _NOT_MADE

    @property
    def properties(self) -> Properties | None:
        if self._properties is _NOT_MADE:
            self._properties = Properties(PacketTypes.PUBLISH)
        return self._properties

    @properties.setter
    def properties(self, value: Properties | None) -> None:
        self._properties = value

    @property
    def info(self) -> paho.MQTTMessageInfo:
        if self._info is _NOT_MADE:
            self._info = paho.MQTTMessageInfo(self.mid)
        return self._info

    @info.setter
    def info(self, value: paho.MQTTMessageInfo) -> None:
        self._info = value


def _joinable(packet: dict) -> bool:
    """Nothing is done after this packet is written (paho acts after a QoS 0 PUBLISH and after DISCONNECT)."""
    kind = packet["command"] & 0xF0
    return kind != paho.DISCONNECT and not (kind == paho.PUBLISH and packet["qos"] == 0)


def create_client(
    *,
    role: str | None = None,
    url: str | None = None,
    clean_session: bool = True,
    max_inflight: int = MAX_INFLIGHT,
    mqtt5: bool = False,
    identifier: str | None = None,
) -> paho.Client:
    """A paho client configured for this project; connect it with :func:`connect` (or ``connect_async``).

    ``mqtt5``: speak MQTT 5 (shared subscriptions, session expiry; the session is chosen at connect, so
    ``clean_session`` does not apply). ``identifier``: a fixed client id instead of host-pid-role."""
    address = parse_url(url)
    if mqtt5:
        client = Client(paho.CallbackAPIVersion.VERSION2, client_id=identifier or client_id(role), protocol=paho.MQTTv5)
    else:
        client = Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=identifier or client_id(role),
            protocol=paho.MQTTv311,
            clean_session=clean_session,
        )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.on_socket_open = _on_socket_open
    client.reconnect_delay_set(min_delay=RECONNECT_MIN_DELAY_S, max_delay=RECONNECT_MAX_DELAY_S)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)  # unbounded: the outbox, not paho's queue, is the durable buffer
    client.user_data_set({"address": address})
    return client


def connect(client: paho.Client, *, url: str | None = None, keepalive: int = 30, timeout: float = 5.0) -> bool:
    """Connect, start paho's network thread and wait up to ``timeout`` for the CONNACK; paho reconnects later with
    exponential backoff (1 s up to 30 s). Returns whether the client is connected."""
    address = parse_url(url)
    connected = threading.Event()
    previous = client.on_connect

    def on_connect(c, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            connected.set()
        if previous:
            previous(c, userdata, flags, reason_code, properties)

    client.on_connect = on_connect
    client.connect_async(address.host, address.port, keepalive=keepalive)
    client.loop_start()
    connected.wait(timeout)
    return client.is_connected()


# --- the per-process publisher used right after commit -----------------------------------------------------------
_publisher: paho.Client | None = None
_publisher_pid: int | None = None
_publisher_url: str | None = None
_publisher_failed_at: float = 0.0
_publisher_lock = threading.Lock()
PUBLISHER_RETRY_S = 5.0


def publisher() -> paho.Client | None:
    """This process's publishing client, created on first use after fork; None while the broker is unreachable
    (tried again at most every 5 s). Used for the after-commit nudge; the bridge publishes whatever it misses."""
    global _publisher, _publisher_pid, _publisher_failed_at, _publisher_url
    with _publisher_lock:
        if _publisher is not None and _publisher_pid == os.getpid() and _publisher_url == settings.MQTT_URL:
            return _publisher if _publisher.is_connected() else None
        if _publisher is not None and _publisher_pid == os.getpid():  # the broker URL changed (tests): start over
            _publisher.disconnect()
            _publisher.loop_stop()
            _publisher = None
            _publisher_failed_at = 0.0
        if time.monotonic() - _publisher_failed_at < PUBLISHER_RETRY_S and _publisher_pid == os.getpid():
            return None
        client = create_client(role="pub")
        _publisher_pid = os.getpid()
        _publisher_url = settings.MQTT_URL
        if connect(client, timeout=1.0):
            _publisher = client
            return client
        client.loop_stop()
        client.disconnect()
        _publisher = None
        _publisher_failed_at = time.monotonic()
        return None


def publisher_close() -> None:
    global _publisher, _publisher_failed_at
    with _publisher_lock:
        if _publisher is not None and _publisher_pid == os.getpid():
            _publisher.disconnect()
            _publisher.loop_stop()
        _publisher = None
        _publisher_failed_at = 0.0
