"""Device simulators: desks, HVAC zones and fans that speak MQTT contract v1 (docs/mqtt.md).

Two layers:

* :class:`SimDesk`, :class:`SimHvac`, :class:`SimFan` hold a device's logic with no I/O: ``on_desired(doc, now)``
  and ``tick(now)`` return the messages to publish. The contract tests drive them directly.
* :class:`Simulator` runs any number of them in one asyncio process, each with its own gmqtt connection (MQTT 3.1.1,
  ``clean_session=False``, a retained ``offline`` Last Will), subscribed to its own ``desired`` only, under its own
  identity: username and client id its device id, password ``device.password`` as the backend issued it
  (:func:`provision`). asyncio sets
  TCP_NODELAY on every TCP connection; paho's select() loop could not hold thousands of sockets.

Faults for tests: drop acks, delay acks, reject every command, start offline, go offline and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import resource
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from comfort import contract
from labs import topics

logger = logging.getLogger(__name__)

DESK_SPEED_MM_S = 35.0
PROGRESS_EVERY_S = 1.0
HVAC_TAU_S = 600.0  # first-order time constant of a zone's air temperature
AMBIENT_C = 24.0

Out = tuple[str, dict, int, bool]  # (leaf, payload, qos, retain)


def _now_iso() -> str:
    return contract.iso(datetime.now(UTC))


@dataclass
class Faults:
    drop_acks: float = 0.0  # probability that an ack is not sent (the reported state still is)
    ack_delay_s: float = 0.0  # wait this long before answering a desired document
    reject: bool = False  # answer every new desired document with 422 and change nothing
    offline: bool = False  # do not connect at start


class SimDevice:
    """Contract rules shared by every kind: versions, cmd_id idempotency, ranges, valid_until."""

    kind = ""

    def __init__(self, device_id: str, site: str, *, faults: Faults | None = None) -> None:
        self.device_id = device_id
        self.site = site
        self.faults = faults or Faults()
        self.applied_v = 0  # the version last applied
        self.accepted_v = 0  # the version being applied (a moving desk) or last applied
        self.active_cmd: str | None = None
        self.results: OrderedDict[str, dict] = OrderedDict()  # cmd_id -> the last ack sent for it
        self.received: list[dict] = []  # every desired document seen (tests read it)
        self.password: str | None = None  # its MQTT password (username = client id = device id), issued by the backend

    # -- helpers
    def topic(self, leaf: str) -> str:
        return topics.topic(self.site, self.kind, self.device_id, leaf)

    def _ack(self, doc: dict, code: int, detail: str, **extra) -> Out:
        payload = {"cmd_id": doc.get("cmd_id"), "av": doc.get("v"), "ac": code, "ad": detail, **extra}
        if doc.get("cmd_id"):
            self.results[doc["cmd_id"]] = payload
            while len(self.results) > 256:
                self.results.popitem(last=False)
        return ("ack", payload, 1, False)

    def reported_out(self) -> Out:
        return ("reported", {"v_applied": self.applied_v, **self.state(), "ts": _now_iso()}, 1, True)

    # -- the contract
    def on_desired(self, doc: dict, now: float) -> list[Out]:
        self.received.append(doc)
        version, cmd_id = doc.get("v"), doc.get("cmd_id")
        if not isinstance(version, int) or isinstance(version, bool) or not isinstance(cmd_id, str):
            return []  # not a desired document: nothing to acknowledge
        if cmd_id in self.results:  # idempotent on cmd_id: answer again, change nothing
            return [("ack", dict(self.results[cmd_id]), 1, False), self.reported_out()]
        if version <= self.accepted_v:
            return [self._ack(doc, contract.ACK_STALE, f"stale version (have {self.accepted_v})")]
        valid_until = contract.parse_iso(doc.get("valid_until"))
        if valid_until is not None and valid_until <= datetime.now(UTC):
            return [self._ack(doc, contract.ACK_EXPIRED, "expired before it arrived")]
        errors = contract.desired_errors(self.kind, doc.get("desired"))
        if errors:
            return [self._ack(doc, contract.ACK_INVALID, "; ".join(errors))]
        if self.faults.reject:
            return [self._ack(doc, contract.ACK_UNPROCESSABLE, "device fault (simulated)")]
        self.accepted_v = version
        self.active_cmd = cmd_id
        return self.apply(doc, now)

    def apply(self, doc: dict, now: float) -> list[Out]:
        raise NotImplementedError

    def _applied(self, doc_v: int, doc_cmd: str) -> list[Out]:
        self.applied_v = doc_v
        self.active_cmd = None
        reported = {"v_applied": self.applied_v, **self.state(), "ts": _now_iso()}
        ack = self._ack({"cmd_id": doc_cmd, "v": doc_v}, contract.ACK_APPLIED, "applied", reported=self.state())
        return [ack, ("reported", reported, 1, True)]

    def tick(self, now: float) -> list[Out]:
        return []

    def telemetry(self) -> dict | None:
        return None

    def state(self) -> dict:
        raise NotImplementedError


class SimDesk(SimDevice):
    kind = "desk"

    def __init__(self, device_id: str, site: str, *, height_mm: int = 740, speed_mm_s: float = DESK_SPEED_MM_S, **kw):
        super().__init__(device_id, site, **kw)
        self.height = float(height_mm)
        self.speed = speed_mm_s
        self.target: int | None = None
        self.started_from = self.height
        self.last_tick = 0.0
        self.last_progress = 0.0
        self.doc: dict | None = None

    @property
    def moving(self) -> bool:
        return self.target is not None

    def state(self) -> dict:
        return {"height_mm": round(self.height), "moving": self.moving}

    def apply(self, doc: dict, now: float) -> list[Out]:
        target = doc["desired"]["height_mm"]
        if self.speed <= 0 or abs(target - self.height) < 1:
            self.height = float(target)
            self.target = None
            return self._applied(doc["v"], doc["cmd_id"])
        self.target, self.doc = target, doc
        self.started_from = self.height
        self.last_tick = self.last_progress = now
        eta = abs(target - self.height) / self.speed
        return [self._progress_ack(eta)]

    def _progress_ack(self, eta: float) -> Out:
        total = abs(self.target - self.started_from) or 1.0
        progress = min(round(1 - abs(self.target - self.height) / total, 3), 0.999)
        return self._ack(self.doc, contract.ACK_IN_PROGRESS, "moving", progress=progress, eta_s=round(eta, 1))

    def tick(self, now: float) -> list[Out]:
        if not self.moving:
            return []
        step = self.speed * (now - self.last_tick)
        self.last_tick = now
        distance = self.target - self.height
        if abs(distance) <= step + 1e-6:
            self.height = float(self.target)
            self.target = None
            return self._applied(self.doc["v"], self.doc["cmd_id"])
        self.height += math.copysign(step, distance)
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            return [self._progress_ack(abs(self.target - self.height) / self.speed)]
        return []


class SimHvac(SimDevice):
    kind = "hvac"

    def __init__(self, device_id: str, site: str, *, temp_c: float = 23.5, tau_s: float = HVAC_TAU_S, **kw):
        super().__init__(device_id, site, **kw)
        self.setpoint = 22.0
        self.mode = "auto"
        self.fan = "auto"
        self.temp = temp_c
        self.tau = tau_s
        self.last_tick: float | None = None

    @property
    def action(self) -> str:
        if self.mode == "off":
            return "off"
        if self.mode == "fan_only":
            return "fan"
        if self.temp > self.setpoint + 0.2 and self.mode in ("auto", "cool"):
            return "cooling"
        if self.temp < self.setpoint - 0.2 and self.mode in ("auto", "heat"):
            return "heating"
        return "idle"

    def state(self) -> dict:
        return {
            "setpoint_c": self.setpoint,
            "mode": self.mode,
            "fan": self.fan,
            "current_temp_c": round(self.temp, 2),
            "action": self.action,
        }

    def apply(self, doc: dict, now: float) -> list[Out]:
        desired = doc["desired"]
        self.setpoint = float(desired.get("setpoint_c", self.setpoint))
        self.mode = desired.get("mode", self.mode)
        self.fan = desired.get("fan", self.fan)
        return self._applied(doc["v"], doc["cmd_id"])

    def tick(self, now: float) -> list[Out]:
        if self.last_tick is not None:
            dt = now - self.last_tick
            goal = self.setpoint if self.action in ("cooling", "heating") else AMBIENT_C
            self.temp += (goal - self.temp) * (1 - math.exp(-dt / self.tau))
        self.last_tick = now
        return []

    def telemetry(self) -> dict:
        return {"current_temp_c": round(self.temp, 2), "action": self.action, "ts": _now_iso()}


class SimFan(SimDevice):
    kind = "fan"

    def __init__(self, device_id: str, site: str, **kw):
        super().__init__(device_id, site, **kw)
        self.on = False
        self.speed_pct = 0

    def state(self) -> dict:
        return {"on": self.on, "speed_pct": self.speed_pct}

    def apply(self, doc: dict, now: float) -> list[Out]:
        desired = doc["desired"]
        self.on = desired.get("on", self.on)
        self.speed_pct = desired.get("speed_pct", self.speed_pct)
        return self._applied(doc["v"], doc["cmd_id"])

    def telemetry(self) -> dict:
        return {"rpm": self.speed_pct * 12 if self.on else 0, "ts": _now_iso()}


KINDS = {"desk": SimDesk, "hvac": SimHvac, "fan": SimFan}


def make_device(kind: str, device_id: str, site: str, **kwargs) -> SimDevice:
    return KINDS[kind](device_id, site, **kwargs)


def provision(devices: list[SimDevice], *, broker_url: str | None = None, wait_s: float = 30.0) -> None:
    """Issue each simulated device its MQTT credentials through the backend's service, as an operator would; while
    the broker is still starting (``make run`` starts everything at once) try again for up to ``wait_s``."""
    from labs.mqtt_credentials import BrokerUnavailable, mqtt_credential_issue

    deadline = time.monotonic() + wait_s
    for device in devices:
        while True:
            try:
                issued = mqtt_credential_issue(
                    username=device.device_id, site=device.site, kind=device.kind, broker_url=broker_url
                )
                break
            except BrokerUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        device.password = issued.password


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards ``wanted`` (each simulated device holds one socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class Simulator:
    """Many simulated devices in one asyncio loop, each with its own MQTT connection."""

    def __init__(
        self,
        devices: list[SimDevice],
        *,
        url: str,
        tick_s: float = 0.2,
        telemetry_s: float = 30.0,
        connect_concurrency: int = 256,
        keepalive: int = 60,
        reconnect_delay_s: float = 1.0,
    ) -> None:
        from labs.mqtt import parse_url

        self.devices = {d.device_id: d for d in devices}
        self.address = parse_url(url)
        self.tick_s = tick_s
        self.telemetry_s = telemetry_s
        self.connect_concurrency = connect_concurrency
        self.keepalive = keepalive
        self.reconnect_delay_s = reconnect_delay_s
        self.clients: dict = {}
        self.connected: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.connect_seconds: float | None = None

    # -- publishing
    def _send(self, device: SimDevice, outs: list[Out]) -> None:
        client = self.clients.get(device.device_id)
        if client is None or not self.connected[device.device_id].is_set():
            return
        for leaf, payload, qos, retain in outs:
            if leaf == "ack" and device.faults.drop_acks and random.random() < device.faults.drop_acks:  # noqa: S311
                continue
            client.publish(device.topic(leaf), json.dumps(payload, separators=(",", ":")), qos=qos, retain=retain)

    def _on_message(self, device: SimDevice):
        def on_message(client, topic, payload, qos, properties):
            try:
                doc = json.loads(payload)
            except (ValueError, UnicodeDecodeError):
                return 0
            if not isinstance(doc, dict):
                return 0
            delay = device.faults.ack_delay_s
            if delay:
                self.loop.call_later(delay, lambda: self._send(device, device.on_desired(doc, time.monotonic())))
            else:
                self._send(device, device.on_desired(doc, time.monotonic()))
            return 0

        return on_message

    def _on_connect(self, device: SimDevice):
        def on_connect(client, flags, rc, properties):
            self.connected[device.device_id].set()
            client.publish(
                device.topic("status"),
                json.dumps({"status": "online", "ts": _now_iso()}),
                qos=1,
                retain=True,
            )
            # Subscribing on every (re)connect hands us the retained desired document again: a version that rose
            # while the device was away is applied now; one already handled is answered idempotently.
            client.subscribe(device.topic("desired"), qos=1)
            self._send(device, [device.reported_out()])

        return on_connect

    def _on_disconnect(self, device: SimDevice):
        def on_disconnect(client, packet, exc=None):
            self.connected[device.device_id].clear()

        return on_disconnect

    async def connect_device(self, device: SimDevice) -> None:
        import gmqtt
        from gmqtt.mqtt.constants import MQTTv311

        will = gmqtt.Message(device.topic("status"), json.dumps({"status": "offline"}), qos=1, retain=True)
        client = gmqtt.Client(device.device_id, clean_session=False, will_message=will)
        client.set_config({"reconnect_retries": -1, "reconnect_delay": self.reconnect_delay_s})
        if device.password:  # its own identity; the broker refuses anonymous clients
            client.set_auth_credentials(device.device_id, device.password)
        client.on_connect = self._on_connect(device)
        client.on_message = self._on_message(device)
        client.on_disconnect = self._on_disconnect(device)
        self.clients[device.device_id] = client
        self.connected.setdefault(device.device_id, asyncio.Event())
        await client.connect(
            self.address.host, self.address.port, keepalive=self.keepalive, version=MQTTv311, ssl=self.address.tls
        )

    async def go_offline(self, device_id: str) -> None:
        """Drop the connection without DISCONNECT, so the broker publishes the Last Will; stay away."""
        client = self.clients.get(device_id)
        if client is None:
            return
        client._is_active = False  # gmqtt: no automatic reconnect
        connection = client._connection
        if connection is not None:
            connection._transport.abort()
        self.connected[device_id].clear()
        await asyncio.sleep(0)

    async def come_online(self, device_id: str) -> None:
        await self.connect_device(self.devices[device_id])

    async def _ticker(self, stop: asyncio.Event) -> None:
        last_telemetry = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            for device in self.devices.values():
                outs = device.tick(now)
                if outs:
                    self._send(device, outs)
            if self.telemetry_s and now - last_telemetry >= self.telemetry_s:
                last_telemetry = now
                for device in self.devices.values():
                    data = device.telemetry()
                    if data is not None:
                        client = self.clients.get(device.device_id)
                        if client is not None and self.connected[device.device_id].is_set():
                            client.publish(device.topic("telemetry"), json.dumps(data), qos=0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_s)

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        raise_fd_limit(len(self.devices) + 1024)
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(self.connect_concurrency)

        async def bounded(device):
            async with semaphore:
                try:
                    await self.connect_device(device)
                except Exception as exc:  # the broker is down: keep trying in the background
                    logger.warning("device %s could not connect (%s); retrying", device.device_id, exc)
                    self.loop.create_task(self._retry_connect(device, stop))

        await asyncio.gather(*(bounded(d) for d in self.devices.values() if not d.faults.offline))
        self.connect_seconds = time.perf_counter() - started
        self.ready.set()
        ticker = asyncio.create_task(self._ticker(stop))
        await stop.wait()
        ticker.cancel()
        await asyncio.gather(*(c.disconnect() for c in self.clients.values() if c._is_active), return_exceptions=True)

    async def _retry_connect(self, device: SimDevice, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.reconnect_delay_s)
            try:
                await self.connect_device(device)
                return
            except Exception:  # noqa: S112 - still down; try again
                continue


@dataclass
class SimulatorThread:
    """A simulator on its own thread and event loop (tests, benches)."""

    simulator: Simulator
    thread: threading.Thread | None = None
    stop_event: asyncio.Event | None = None
    errors: list = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> SimulatorThread:
        def main():
            async def go():
                self.stop_event = asyncio.Event()
                await self.simulator.run(self.stop_event)

            try:
                asyncio.run(go())
            except Exception as exc:  # surfaced to the test
                self.errors.append(exc)
                self.simulator.ready.set()

        self.thread = threading.Thread(target=main, name="device-simulator", daemon=True)
        self.thread.start()
        if not self.simulator.ready.wait(timeout):
            raise TimeoutError("the simulator did not connect its devices in time")
        if self.errors:
            raise self.errors[0]
        return self

    def call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.simulator.loop).result(timeout)

    def stop(self) -> None:
        if self.simulator.loop and self.stop_event:
            self.simulator.loop.call_soon_threadsafe(self.stop_event.set)
        if self.thread:
            self.thread.join(15)
