"""End to end over a real broker: API -> service -> outbox -> bridge -> broker -> simulated device -> ack -> bridge.

Marked ``mosquitto``: they run against the project's own Mosquitto (CI: MQTT_URL=mqtt://127.0.0.1:18831 from
mosquitto.conf), or a private one a test starts so it can restart it. The embedded amqtt broker is covered too.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import pytest

from comfort import services
from comfort.choices import CommandState
from comfort.models import Command, Device
from comfort.simulator import Faults, SimDesk
from labs.models import OutboxMessage
from labs.mqtt import parse_url
from labs.mqtt_credentials import mqtt_credential_issue
from tests.comfort.conftest import clear_retained, live, sim_devices_for, subprocess_env, wait_until
from tests.comfort.contract_device import MinimalDesk
from tests.comfort.factories import PreferenceFactory

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"speed_mm_s": 2000.0}  # motion time is not what these tests measure


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _states(commands) -> dict:
    return {c.device.kind: c.state for c in Command.objects.filter(pk__in=[c.pk for c in commands])}


def _all_applied(commands):
    return lambda: all(s == CommandState.APPLIED for s in _states(commands).values())


def _check_in_end_to_end(url, member, member_client, desk, devices):
    PreferenceFactory(person=member, desk_sit_height_mm=1040, temperature_c=Decimal("20.5"), fan_speed_pct=70)
    with live(url, sim_devices_for(devices.values(), **FAST)):
        response = member_client.post(f"/api/v1/desks/{desk.pk}/check-in/")
        assert response.status_code == 200, response.content
        ids = [c["id"] for c in response.json()["commands"]]
        commands = list(Command.objects.filter(pk__in=ids).select_related("device"))
        wait_until(_all_applied(commands), timeout=15, message="every command applied")

    desk_command = Command.objects.get(device=devices["desk"], version=1)
    assert desk_command.result_reported["height_mm"] == 1040  # the device acked at the person's height
    assert desk_command.sent_at <= desk_command.delivered_at <= desk_command.applied_at
    assert desk_command.attempts >= 1
    hvac = Device.objects.get(pk=devices["hvac"].pk)
    assert hvac.reported["setpoint_c"] == 20.5 and hvac.reported_version == 1
    fan = Device.objects.get(pk=devices["fan"].pk)
    assert fan.reported["speed_pct"] == 70 and fan.online
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.mosquitto
def test_check_in_makes_the_simulated_desk_ack_at_my_height_and_the_zone_setpoint_change(
    project_mosquitto, member, member_client, desk, devices
):
    _check_in_end_to_end(project_mosquitto, member, member_client, desk, devices)


def test_the_embedded_amqtt_broker_carries_a_check_in_end_to_end(amqtt_broker, member, member_client, desk, devices):
    _check_in_end_to_end(amqtt_broker, member, member_client, desk, devices)


class Listener:
    """A plain subscriber that records what reaches the broker."""

    def __init__(self, url: str, topic: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.ready = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        address = parse_url(url)
        self.client.username_pw_set(address.username, address.password)  # the backend's account
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.mosquitto
def test_out_of_range_preferences_get_400_and_nothing_is_published(
    project_mosquitto, member, member_client, desk, devices
):
    with live(project_mosquitto, sim_devices_for(devices.values(), **FAST)) as (bridge, _sim):
        assert member_client.post(f"/api/v1/desks/{desk.pk}/check-in/").status_code == 200
        wait_until(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), message="outbox drained")
        listener = Listener(project_mosquitto, f"labs/v1/+/+/{devices['desk'].device_id}/desired")
        wait_until(lambda: listener.messages, message="the retained desired document")
        listener.messages.clear()
        rows = OutboxMessage.objects.count()

        for body in ({"desk_sit_height_mm": 1300}, {"temperature_c": "35.0"}, {"fan_speed_pct": -1}):
            response = member_client.patch("/api/v1/me/preferences/", body, format="json")
            assert response.status_code == 400, body

        published_before = bridge.published
        valid = member_client.patch("/api/v1/me/preferences/", {"fan_speed_pct": 15}, format="json")
        assert valid.status_code == 200
        # the valid change does reach the broker, which shows the listener would have seen the invalid ones
        wait_until(lambda: bridge.published > published_before, message="the valid change to be published")
        listener.close()
    assert OutboxMessage.objects.count() == rows + 1  # only the fan's new desired state
    assert listener.messages == []  # the desk's height never changed


@pytest.mark.mosquitto
def test_a_broker_restart_mid_run_loses_no_command(own_mosquitto, desk, devices):
    """The project's Mosquitto config (persistence) in a private process this test stops and starts again."""
    sims = sim_devices_for(devices.values(), **FAST)
    issued = []
    with live(own_mosquitto.url, sims) as (bridge, _sim):
        wait_until(lambda: Device.objects.filter(online=True).count() == 3, message="devices online")
        for height in (700, 800):
            issued.append(
                services.device_desired_set(device=devices["desk"], desired={"height_mm": height}, reason={"type": "t"})
            )
        wait_until(_all_applied(issued[-1:]), message="the commands before the outage to apply")
        wait_until(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), message="outbox drained")

        own_mosquitto.stop()
        wait_until(lambda: not bridge.connected.is_set(), message="the bridge to notice")
        # commands issued while the broker is down wait in the outbox
        issued.append(
            services.device_desired_set(device=devices["desk"], desired={"height_mm": 1111}, reason={"type": "t"})
        )
        issued.append(
            services.device_desired_set(device=devices["hvac"], desired={"setpoint_c": 23.0}, reason={"type": "t"})
        )
        issued.append(
            services.device_desired_set(
                device=devices["fan"], desired={"on": True, "speed_pct": 33}, reason={"type": "t"}
            )
        )
        assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 3
        own_mosquitto.start()

        latest = issued[-3:]
        wait_until(_all_applied(latest), timeout=30, message="the commands issued during the outage to apply")
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    for command in Command.objects.all():
        assert command.state in (CommandState.APPLIED, CommandState.SUPERSEDED), command
    assert Device.objects.get(pk=devices["desk"].pk).reported["height_mm"] == 1111
    assert Device.objects.get(pk=devices["hvac"].pk).reported["setpoint_c"] == 23.0


@pytest.mark.mosquitto
def test_an_offline_device_gets_its_retained_desired_state_when_it_returns(project_mosquitto, desk, devices):
    device = devices["desk"]
    sim = SimDesk(device.device_id, device.site.slug, faults=Faults(offline=True), **FAST)
    with live(project_mosquitto, [sim]) as (bridge, simulator):
        command = services.device_desired_set(device=device, desired={"height_mm": 955}, reason={"type": "t"})
        wait_until(lambda: Command.objects.get(pk=command.pk).state == CommandState.SENT, message="sent")
        assert services.commands_sweep() == {"expired": 0, "retried": 0, "timed_out": 0}

        simulator.call(simulator.simulator.come_online(device.device_id))

        wait_until(lambda: Command.objects.get(pk=command.pk).state == CommandState.APPLIED, message="applied")
        assert sim.height == 955
        wait_until(lambda: Device.objects.get(pk=device.pk).online, message="online")

        # an abrupt loss of the connection makes the broker publish the Last Will
        simulator.call(simulator.simulator.go_offline(device.device_id))
        wait_until(lambda: not Device.objects.get(pk=device.pk).online, timeout=15, message="the Last Will")


def _minimal_desk_follows_the_backend(url, desk, devices):
    device = devices["desk"]
    minimal = MinimalDesk(device.device_id, device.site.slug)
    with live(url, []):
        first = services.device_desired_set(device=device, desired={"height_mm": 1200}, reason={"type": "t"})
        # the device connects only now: the retained document is waiting for it
        issued = mqtt_credential_issue(username=device.device_id, site=device.site.slug, kind="desk", broker_url=url)
        client = minimal.connect(*_host_port(url), password=issued.password)
        try:
            wait_until(lambda: Command.objects.get(pk=first.pk).state == CommandState.APPLIED, message="applied")
            second = services.device_desired_set(device=device, desired={"height_mm": 650}, reason={"type": "t"})
            wait_until(lambda: Command.objects.get(pk=second.pk).state == CommandState.APPLIED, message="applied")
        finally:
            client.disconnect()
            client.loop_stop()
            clear_retained(url, [minimal.topic(leaf) for leaf in ("desired", "reported", "status")])
    assert minimal.height == 650 and minimal.version == 2
    assert Device.objects.get(pk=device.pk).reported == {"height_mm": 650, "moving": False}


def test_a_minimal_third_party_desk_works_with_the_backend_on_the_embedded_broker(amqtt_broker, desk, devices):
    _minimal_desk_follows_the_backend(amqtt_broker, desk, devices)


@pytest.mark.mosquitto
def test_a_minimal_third_party_desk_works_with_the_backend_on_mosquitto(project_mosquitto, desk, devices):
    _minimal_desk_follows_the_backend(project_mosquitto, desk, devices)


@pytest.mark.mosquitto
def test_dropped_acks_are_recovered_from_the_reported_state(project_mosquitto, desk, devices):
    device = devices["desk"]
    sim = SimDesk(device.device_id, device.site.slug, faults=Faults(drop_acks=1.0), **FAST)
    with live(project_mosquitto, [sim]):
        command = services.device_desired_set(device=device, desired={"height_mm": 777}, reason={"type": "t"})
        wait_until(lambda: Command.objects.get(pk=command.pk).state == CommandState.APPLIED, message="applied")
    command.refresh_from_db()
    assert command.result_code is None  # no ack ever arrived; the retained report settled it


def test_simulate_devices_runs_synthetic_devices_each_with_its_own_connection(amqtt_broker):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listener = Listener(amqtt_broker, "labs/v1/simtest/+/+/status")
    env = subprocess_env()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            str(root / "manage.py"),
            "simulate_devices",
            "--count",
            "6",
            "--kinds",
            "desk,hvac,fan",
            "--synthetic-site",
            "simtest",
            "--prefix",
            f"st{os.getpid()}",
            "--url",
            amqtt_broker,
        ],
        env=env,
        cwd=root,
    )
    try:
        wait_until(lambda: len({t for t, p in listener.messages if p["status"] == "online"}) == 6, message="online")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        listener.close()
    kinds = sorted({t.split("/")[3] for t, _p in listener.messages})
    assert kinds == ["desk", "fan", "hvac"]
