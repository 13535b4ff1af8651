"""The MQTT bridge: one long-running process between the database and the broker.

It subscribes (QoS 1) to every topic filter the apps registered with :mod:`labs.mqtt_router`, hands each message to
the router (plain handler functions, which tests call without a broker) and publishes the replies; and it drains the
outbox (:mod:`labs.outbox`) in id order. paho's network thread only queues incoming messages: every database access
happens on the bridge's own thread. paho reconnects with backoff (1 s to 30 s); on every (re)connect the bridge
subscribes again, so the retained ``status`` and ``reported`` of every device arrive again and reconcile its state.

Device input is untrusted (labs/mqtt_payloads.py): a payload over the size limit is replaced by its size before it is
queued, and the queue holds at most ``inbox_max_bytes`` of payloads (paho's thread waits, so the broker keeps the
backlog): a flood costs the bridge time, not memory. The dropped-message counts are written after each batch.

Scale (docs/scaling.md): what is queued is handled as one batch (at most ``MQTT_BRIDGE_BATCH`` messages, waiting up
to ``MQTT_BRIDGE_BATCH_MS`` for more) in one transaction (labs.mqtt_router.dispatch_batch: coalesced, rows locked in
a stable order first, one by one on error). On an MQTT 5 broker the bridge subscribes through shared subscriptions
``$share/MQTT_SHARED_GROUP/<filter>``, so bridges side by side split the device messages and each is handled once,
and keeps a persistent session (``MQTT_BRIDGE_SESSION_EXPIRY_S``) so messages that arrive while it reconnects wait
for it. Shared subscriptions get no retained messages (MQTT 5, 4.8.2): after each (re)connect the bridge also
subscribes plainly to the retained full-state leaves (the coalescing routes: ``reported``, ``status``) and drops
that subscription as soon as the broker confirmed it, which replays every device's retained state to this bridge.
The outbox is drained with row claims (labs/outbox.py), so several bridges never publish the same row.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from labs import mqtt, mqtt_payloads, mqtt_router, outbox

logger = logging.getLogger(__name__)


_WAKE = ("", b"")  # put in the inbox to wake the bridge's thread for the scan lane


class Bridge:
    def __init__(
        self,
        *,
        url: str | None = None,
        poll_s: float = 0.05,
        outbox_batch: int = 2000,
        inbox_batch: int | None = None,
        batch_window_s: float | None = None,
        outbox_grace: timedelta | None = None,
        periodic: list[tuple[float, callable]] | None = None,
        inbox_max_bytes: int = 4 * 1024 * 1024,
        shared: bool | None = None,
        group: str | None = None,
        identifier: str | None = None,
    ) -> None:
        self.url = url
        self.poll_s = poll_s
        self.outbox_batch = outbox_batch
        self.inbox_batch = inbox_batch or settings.MQTT_BRIDGE_BATCH
        self.batch_window_s = settings.MQTT_BRIDGE_BATCH_MS / 1000 if batch_window_s is None else batch_window_s
        self.shared = settings.MQTT_BRIDGE_SHARED if shared is None else shared
        self.group = group or settings.MQTT_SHARED_GROUP
        self.identifier = identifier or settings.MQTT_BRIDGE_ID or None
        self.retained_mids: set[int] = set()
        self.scan_client = None
        self.main_subscribed = threading.Event()
        self.scan_subscribed = threading.Event()
        self.batches = 0
        self.fell_back = 0
        if outbox_grace is None:
            grace_ms = settings.MQTT_OUTBOX_GRACE_MS if settings.MQTT_OUTBOX_NUDGE else 0
            outbox_grace = timedelta(milliseconds=grace_ms)
        self.outbox_grace = outbox_grace
        self.periodic = [[interval, job, 0.0] for interval, job in (periodic or [])]
        self.inbox: queue.Queue[tuple[str, bytes | mqtt_payloads.Oversize]] = queue.Queue()
        self.inbox_max_bytes = inbox_max_bytes
        self.urgent: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.inbox_bytes = 0
        self.inbox_space = threading.Condition()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = None
        self.handled = 0
        self.published = 0
        self.outbox_empty_at: float | None = None  # when a drain last found nothing to publish

    # paho callbacks (network thread): no database access here
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("broker refused the bridge: %s", reason_code)
            return
        topics = mqtt_router.subscriptions()
        if self.scan_client is not None:  # the scan lane's filters are on its own connection
            topics = [t for t in topics if t not in mqtt_router.alone_subscriptions()]
        if self.shared:
            topics = [f"$share/{self.group}/{topic}" for topic in topics]
        logger.info("bridge connected to %s; subscribing to %s", userdata["address"], topics)
        if topics:
            if self.shared:
                client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in topics])
                retained = mqtt_router.retained_subscriptions()
                if retained:  # shared subscriptions get no retained messages: fetch them once, plainly
                    _result, mid = client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in retained])
                    self.retained_mids.add(mid)
            else:
                client.subscribe([(topic, 1) for topic in topics])
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid in self.retained_mids:
            # The broker queued every retained message of these filters for us when it took the subscription;
            # leave it now, or each live report would arrive twice (shared and plain).
            self.retained_mids.discard(mid)
            client.unsubscribe(mqtt_router.retained_subscriptions())
            return
        self.main_subscribed.set()
        self._maybe_subscribed()

    def _maybe_subscribed(self) -> None:
        if self.main_subscribed.is_set() and (self.scan_client is None or self.scan_subscribed.is_set()):
            self.subscribed.set()

    # the scan lane's own connection (MQTT 5 only): scans never queue at the broker behind a device backlog
    def _on_scan_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("broker refused the bridge's scan lane: %s", reason_code)
            return
        filters = [f"$share/{self.group}/{topic}" for topic in mqtt_router.alone_subscriptions()]
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in filters])

    def _on_scan_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.scan_subscribed.set()
        self._maybe_subscribed()

    def _on_scan_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.scan_subscribed.clear()
        self.subscribed.clear()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.main_subscribed.clear()
        self.subscribed.clear()
        if not self.stopping.is_set():
            logger.warning("bridge lost the broker (%s); paho reconnects with backoff", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        payload = message.payload
        if len(payload) > settings.MQTT_PAYLOAD_MAX_BYTES:
            self.inbox.put((message.topic, mqtt_payloads.Oversize(len(payload))))
            return
        if self.urgent.qsize() < 1000 and mqtt_router.is_alone(message.topic):
            # A reader's scan waits for its answer: its own lane, handled before the next batch (bounded by the
            # readers' pace; past 1,000 waiting, a flood of scans joins the bounded queue of the device messages).
            self.urgent.put((message.topic, payload))
            self.inbox.put(_WAKE)  # the bridge's thread may be waiting on the inbox: wake it
            return
        with self.inbox_space:
            # Backpressure: while the queue holds too many bytes, paho's thread waits (the broker keeps the rest).
            while self.inbox_bytes + len(payload) > self.inbox_max_bytes and not self.stopping.is_set():
                self.inbox_space.wait(0.5)
            self.inbox_bytes += len(payload)
        self.inbox.put((message.topic, payload))

    # the bridge's own thread
    def start(self) -> None:
        if self.shared and mqtt_router.alone_subscriptions():
            self.scan_client = mqtt.create_client(
                role="bridge-scan",
                url=self.url,
                mqtt5=True,
                identifier=f"{self.identifier}-scan" if self.identifier else None,
            )
            self.scan_client.on_connect = self._on_scan_connect
            self.scan_client.on_subscribe = self._on_scan_subscribe
            self.scan_client.on_disconnect = self._on_scan_disconnect
            self.scan_client.on_message = self._on_message
        self.client = mqtt.create_client(role="bridge", url=self.url, mqtt5=self.shared, identifier=self.identifier)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        address = mqtt.parse_url(self.url)
        if self.shared:
            # A persistent session: while the bridge reconnects (a broker restart), the broker queues its share of
            # the messages. A fixed identifier resumes its session after the bridge restarts, too.
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = settings.MQTT_BRIDGE_SESSION_EXPIRY_S
            clean_start = False if self.identifier else paho_clean_start_first_only()
            for client in filter(None, (self.client, self.scan_client)):
                client.connect_async(
                    address.host, address.port, keepalive=30, clean_start=clean_start, properties=properties
                )
            if self.scan_client is not None:
                self.scan_client.loop_start()
        else:
            self.client.connect_async(address.host, address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        with self.inbox_space:
            self.inbox_space.notify_all()

    def run(self) -> None:
        """Serve until :meth:`stop` is called (from a signal handler or another thread)."""
        if self.client is None:
            self.start()
        last_cleanup = time.monotonic()
        try:
            while not self.stopping.is_set():
                self.step()
                if time.monotonic() - last_cleanup > 60:
                    close_old_connections()
                    last_cleanup = time.monotonic()
        finally:
            self._disconnect()
            self.client.loop_stop()
            connections.close_all()

    def _disconnect(self) -> None:
        """A clean stop ends the bridge's session at once (MQTT 5: session expiry 0 on DISCONNECT): a session left
        behind would keep taking its share of the shared subscription's messages, which no one would read."""
        if self.shared:
            for client in filter(None, (self.client, self.scan_client)):
                properties = Properties(PacketTypes.DISCONNECT)
                properties.SessionExpiryInterval = 0
                client.disconnect(properties=properties)
            if self.scan_client is not None:
                self.scan_client.loop_stop()
        else:
            self.client.disconnect()

    def step(self) -> None:
        """One round: handle incoming messages (waiting up to poll_s for the first), then drain the outbox.

        Up to ``inbox_batch`` messages are handled per round, as one batch: those already queued, and those that
        arrive within ``batch_window_s`` of the first; then the outbox gets its turn."""
        self._handle_urgent()
        batch = []
        try:
            batch.append(self.inbox.get(timeout=0 if self.urgent.qsize() else self.poll_s))
        except queue.Empty:
            pass
        else:
            deadline = time.monotonic() + self.batch_window_s
            while len(batch) < self.inbox_batch:
                try:
                    remaining = deadline - time.monotonic()
                    batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
                except queue.Empty:
                    break
            batch = [message for message in batch if message is not _WAKE]
            self._release(batch)
            if batch:
                self._handle_batch(batch)
                mqtt_payloads.flush_drops()
        self._handle_urgent()
        if self.connected.is_set() and self._outbox_due():
            try:
                published = outbox.outbox_drain(
                    client=self.client, limit=self.outbox_batch, older_than=self.outbox_grace
                )
                self.published += published
                self.outbox_empty_at = None if published else time.monotonic()
            except Exception:
                logger.exception("outbox drain failed; retrying on the next round")
                close_old_connections()
        now = time.monotonic()
        for job in self.periodic:
            interval, function, last = job
            if now - last >= interval:
                job[2] = now
                try:
                    function()
                except Exception:
                    logger.exception("periodic job %s failed", getattr(function, "__name__", function))
                    close_old_connections()

    def _outbox_due(self) -> bool:
        """Drain the outbox again at once while it gives messages; after a drain that found none, not before
        ``poll_s`` has passed. A busy bridge handles a batch every few milliseconds, and a claim after each one
        (during a fan-out, stepping over thousands of rows the publishing process holds) cost the bridge and
        PostgreSQL for nothing: rows become claimable only by ageing past the grace (a second by default)."""
        return self.outbox_empty_at is None or time.monotonic() - self.outbox_empty_at >= self.poll_s

    def _handle_urgent(self) -> None:
        """Scans that arrived meanwhile, one by one (each its own transaction), before any further batch."""
        urgent = []
        while True:
            try:
                urgent.append(self.urgent.get_nowait())
            except queue.Empty:
                break
        if urgent:
            self._handle_batch(urgent)

    def _release(self, batch: list[tuple[str, bytes | mqtt_payloads.Oversize]]) -> None:
        """The batch left the queue: give its bytes back to paho's thread."""
        size = sum(len(payload) for _, payload in batch if not isinstance(payload, mqtt_payloads.Oversize))
        with self.inbox_space:
            self.inbox_bytes -= size
            self.inbox_space.notify_all()

    def _handle_batch(self, batch: list[tuple[str, bytes | mqtt_payloads.Oversize]]) -> None:
        """The batch in one transaction (labs.mqtt_router.dispatch_batch): the apps' lock hooks lock the rows it
        touches in primary-key order first, the same order check-ins use, so a batch spanning many devices cannot
        deadlock with them; a failing message sends the batch back to one transaction per message."""
        self._fast_commits()
        try:
            result = mqtt_router.dispatch_batch(batch)
        except Exception:  # dispatch logs handler errors itself; this is a database outage or a bug
            logger.exception("dispatch of a batch of %s failed", len(batch))
            close_old_connections()
            return
        self.batches += 1
        self.fell_back += result.fell_back
        self.handled += result.handled + result.coalesced + result.dropped  # every message taken off the queue
        for reply in result.replies:
            self.client.publish(reply.topic, reply.encoded(), qos=reply.qos, retain=reply.retain)

    def _fast_commits(self) -> None:
        """On PostgreSQL the bridge's own connection commits without waiting for the WAL flush: what it writes (acks,
        reports, status) is re-derived from the devices' retained messages after a crash, and a durable commit costs
        ~4 ms here, which would cap the bridge at a few hundred messages a second."""
        connection = connections["default"]
        if connection.vendor != "postgresql":
            return
        if (
            connection.connection is None
            or getattr(connection, "_labs_fast_commits", None) is not connection.connection
        ):
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            connection._labs_fast_commits = connection.connection


def paho_clean_start_first_only():
    from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY

    return MQTT_CLEAN_START_FIRST_ONLY


def run_in_thread(**kwargs) -> tuple[Bridge, threading.Thread]:
    """Start a bridge on a daemon thread (tests, benches); stop it with ``bridge.stop(); thread.join()``."""
    bridge = Bridge(**kwargs)
    bridge.start()
    thread = threading.Thread(target=bridge.run, name="mqtt-bridge", daemon=True)
    thread.start()
    return bridge, thread
