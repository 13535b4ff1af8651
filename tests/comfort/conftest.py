"""Comfort fixtures: a zone with desks and their devices; brokers (the project's Mosquitto, a private Mosquitto that
a test may restart, the embedded amqtt) and a live bridge + simulator against them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from comfort.simulator import Simulator, SimulatorThread, make_device, provision
from labs.mqtt_bridge import run_in_thread
from tests.comfort.factories import DeskFactory, DeviceFactory, FloorFactory, ZoneFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_device_caches():
    """The bridge's handlers cache device ids per process; each test starts without stale entries."""
    from comfort import services

    services._DEVICE_PKS.clear()
    services._UNKNOWN.clear()
    services._SEEN_ONLINE.clear()


@pytest.fixture(autouse=True)
def _no_outbox_nudge(settings):
    """Without a broker in most tests the committing process must not try to publish; the bridge drains instead."""
    settings.MQTT_OUTBOX_NUDGE = False


@pytest.fixture
def zone(site):
    return ZoneFactory(floor=FloorFactory(site=site, level=3), slug="north", default_setpoint_c=Decimal("22.0"))


@pytest.fixture
def desk(zone):
    return DeskFactory(zone=zone, label="N1")


@pytest.fixture
def other_desk(zone):
    return DeskFactory(zone=zone, label="N2")


@pytest.fixture
def desk_device(desk):
    return DeviceFactory(kind="desk", desk=desk)


@pytest.fixture
def hvac(zone):
    return DeviceFactory(kind="hvac", zone=zone)


@pytest.fixture
def fan(zone):
    return DeviceFactory(kind="fan", zone=zone)


@pytest.fixture
def devices(desk_device, hvac, fan):
    return {"desk": desk_device, "hvac": hvac, "fan": fan}


def wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def subprocess_env(**extra: str) -> dict:
    """The environment of a manage.py subprocess (the embedded broker, a simulator) that must see this test's
    database: the embedded broker reads the issued credentials from it. MQTT_URL is dropped (embedded defaults)."""
    from django.db import connection

    env = {k: v for k, v in os.environ.items() if k != "MQTT_URL"}
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(database["NAME"])
    else:
        user = database.get("USER") or ""
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        host = f"{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}"
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}/{database['NAME']}"
    env.update(extra)
    return env


class Mosquitto:
    """A private Mosquitto from the project's mosquitto.conf (TCP_NODELAY, persistence, dynamic security, no anonymous
    client) that a test may restart; its backend account has a fresh secret, carried in :attr:`url`."""

    def __init__(self, data_dir: Path) -> None:
        import secrets

        self.port = free_port()
        self.data_dir = data_dir
        self.conf = data_dir / "mosquitto.conf"
        self.secret = secrets.token_urlsafe(24)
        text = subprocess.run(  # noqa: S603
            ["bash", str(ROOT / "scripts" / "mosquitto-conf.sh"), str(self.port), str(data_dir)],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "MQTT_BACKEND_PASSWORD": self.secret},
        ).stdout
        # foreground process we own: no pid file, log to a file
        self.conf.write_text("\n".join(line for line in text.splitlines() if not line.startswith("pid_file")))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://backend:{self.secret}@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf)])  # noqa: S603, S607
        _wait_port(self.port)

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file (sessions, queued and retained messages) and exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture
def own_mosquitto(settings):
    """A private Mosquitto; the backend's settings point at it, so credentials are provisioned into it."""
    if not _has_mosquitto():
        pytest.skip("needs the mosquitto binary")
    # Not under pytest's tmp_path: started as root, Mosquitto drops to its own user, which cannot enter that tree.
    data_dir = Path(tempfile.mkdtemp(prefix="comfort-mosquitto-"))
    broker = Mosquitto(data_dir)
    broker.start()
    settings.MQTT_URL = broker.url
    settings.MQTT_DYNSEC = True
    yield broker
    broker.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def _has_mosquitto() -> bool:
    from shutil import which

    return which("mosquitto") is not None


@pytest.fixture
def project_mosquitto():
    """The project's own Mosquitto of the run (CI: MQTT_URL=mqtt://backend:SECRET@127.0.0.1:18831, dynamic security);
    the marker skips without it."""
    from tests.services import project_mosquitto_url

    return project_mosquitto_url()


@pytest.fixture
def amqtt_broker(django_db_setup, settings):
    """The embedded broker as `make run` starts it: `manage.py mqtt_broker` (no MQTT_URL) on a free port, reading the
    credentials from this test's database; yields the URL with the backend's (embedded default) account."""
    port = free_port()
    env = subprocess_env(MQTT_EMBEDDED_PORT=str(port))
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "mqtt_broker"], env=env, cwd=ROOT
    )
    settings.MQTT_DYNSEC = False  # the embedded broker reads the hashes from the database
    settings.MQTT_BRIDGE_SHARED = False  # amqtt speaks MQTT 3.1.1 only: no shared subscriptions
    try:
        _wait_port(port, timeout=20)
        yield f"mqtt://backend:{settings.MQTT_EMBEDDED_BACKEND_PASSWORD}@127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def sim_devices_for(devices, **desk_options) -> list:
    sims = []
    for device in devices:
        options = desk_options if device.kind == "desk" else {}
        sims.append(make_device(device.kind, device.device_id, device.site.slug, **options))
    return sims


@contextmanager
def live(url: str, sims: list, *, bridge_kwargs: dict | None = None):
    """A bridge (thread) and a simulator (thread, own event loop) on ``url``; yields (bridge, simulator thread).
    Each simulated device gets its credentials from the backend first, as an operator would issue them."""
    provision(sims, broker_url=url)
    simulator = SimulatorThread(Simulator(sims, url=url, telemetry_s=0, reconnect_delay_s=0.5)).start()
    bridge, thread = run_in_thread(url=url, poll_s=0.02, **(bridge_kwargs or {}))
    try:
        wait_until(bridge.subscribed.is_set, timeout=10, message="the bridge to subscribe")
        yield bridge, simulator
    finally:
        bridge.stop()
        thread.join(10)
        simulator.stop()
        clear_retained(url, [s.topic(leaf) for s in sims for leaf in ("desired", "reported", "status")])


def clear_retained(url: str, topics: list[str]) -> None:
    """A shared broker keeps retained messages across runs: leave none behind for the devices of a test."""
    import paho.mqtt.client as paho

    from labs.mqtt import parse_url

    if not topics:
        return
    address = parse_url(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.username_pw_set(address.username, address.password)  # the backend's account
    try:
        client.connect(address.host, address.port)
    except OSError:  # the broker is gone (a test stopped it): nothing to clear
        return
    client.loop_start()
    infos = [client.publish(topic, b"", qos=1, retain=True) for topic in topics]
    for info in infos:
        info.wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
