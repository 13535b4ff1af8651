"""MQTT asks who you are: on the project's Mosquitto (dynamic security, from mosquitto.conf) and on the embedded amqtt
broker, no anonymous client, no wrong password, and each device only on its own topics."""

from __future__ import annotations

import json
import socket
import threading
import time

import paho.mqtt.client as paho
import pytest
from django.test import override_settings

from labs.mqtt import parse_url
from labs.mqtt_credentials import mqtt_credential_issue
from tests.comfort import conftest as comfort_fixtures
from tests.comfort.conftest import wait_until

own_mosquitto = comfort_fixtures.own_mosquitto
amqtt_broker = comfort_fixtures.amqtt_broker

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "idtest"


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker(request):
    """The backend's URL of a broker started from the project's own configuration."""
    if request.param == "mosquitto":
        from tests.services import require

        require("the mosquitto binary", comfort_fixtures._has_mosquitto())  # CI fails instead of skipping
        return request.getfixturevalue("own_mosquitto").url
    return request.getfixturevalue("amqtt_broker")


class Client:
    """A paho client that records what it receives and whether the broker accepted it."""

    def __init__(self, url: str, *, username=None, password=None, client_id="", will: str | None = None) -> None:
        address = parse_url(url)
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311, clean_session=True
        )
        if username is None and address.username:  # no identity given: the URL's (the backend's) account
            username, password = address.username, address.password
        if username:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will, json.dumps({"v": 999999, "cmd_id": "x", "desired": {}}), qos=1, retain=True)
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self.result = None
        self.answered = threading.Event()
        self.subscribed = threading.Event()
        self.disconnected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.connect_async(address.host, address.port, keepalive=10)
        self.client.loop_start()
        self.answered.wait(5)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.result = reason_code
        self.answered.set()
        if reason_code.is_failure:
            client.disconnect()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.granted = [code.value for code in reason_codes]
        self.subscribed.set()

    @property
    def accepted(self) -> bool:
        return self.result is not None and not self.result.is_failure

    def subscribe(self, topic: str) -> list[int]:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(5)
        return self.granted

    def publish(self, topic: str, payload: dict, *, retain: bool = False) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(5)

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT (the broker then publishes the Last Will)."""
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def topic(kind: str, device: str, leaf: str) -> str:
    return f"labs/v1/{SITE}/{kind}/{device}/{leaf}"


def _issue(username: str, kind: str, url: str) -> str:
    return mqtt_credential_issue(username=username, site=SITE, kind=kind, broker_url=url).password


@pytest.fixture
def identities(broker):
    return {
        "desk-a": _issue("desk-a", "desk", broker),
        "desk-b": _issue("desk-b", "desk", broker),
        "reader-r": _issue("reader-r", "reader", broker),
    }


def test_an_anonymous_client_is_refused(broker):
    address = parse_url(broker)
    client = Client(f"mqtt://{address.host}:{address.port}", client_id="idtest-anonymous")
    try:
        assert client.result is not None and client.result.is_failure
    finally:
        client.close()


def test_a_wrong_password_and_a_borrowed_client_id_are_refused(broker, identities):
    wrong = Client(broker, username="desk-a", password="not-the-password", client_id="desk-a")
    borrowed = Client(broker, username="desk-a", password=identities["desk-a"], client_id="desk-b")
    backend_guess = Client(broker, username="backend", password="backend", client_id="x")
    right = Client(broker, username="desk-a", password=identities["desk-a"], client_id="desk-a")
    try:
        assert not wrong.accepted and not borrowed.accepted and not backend_guess.accepted
        assert right.accepted  # the same broker takes the right credentials
    finally:
        for client in (wrong, borrowed, backend_guess, right):
            client.close()


def test_a_device_cannot_publish_on_another_devices_topics_nor_any_desired(broker, identities):
    backend = Client(broker, client_id="idtest-backend")  # the URL's account: the bridge's view of the tree
    backend.subscribe(f"labs/v1/{SITE}/#")
    device = Client(broker, username="desk-a", password=identities["desk-a"], client_id="desk-a")
    try:
        assert backend.accepted and device.accepted
        forbidden = [
            topic("desk", "desk-b", "ack"),
            topic("desk", "desk-b", "reported"),
            topic("desk", "desk-b", "status"),
            topic("reader", "reader-r", "scan"),
            topic("desk", "desk-b", "desired"),
            topic("desk", "desk-a", "desired"),  # not even its own: desired is the backend's alone
            topic("reader", "reader-r", "decision"),
        ]
        for name in forbidden:
            device.publish(name, {"cmd_id": "6f1c0e8e-5b7a-4d0e-9a55-0123456789ab", "av": 1, "ac": 200}, retain=True)
        device.publish(topic("desk", "desk-a", "ack"), {"marker": True})  # its own topic: this one arrives
        wait_until(lambda: backend.messages, message="the device's own ack")
        assert [t for t, _ in backend.messages] == [topic("desk", "desk-a", "ack")]

        late = Client(broker, client_id="idtest-late")  # a fresh subscriber would get any retained desired
        late.subscribe(f"labs/v1/{SITE}/+/+/desired")
        time.sleep(0.3)
        assert late.messages == []
        late.close()
    finally:
        backend.close()
        device.close()


def test_a_device_subscribes_only_to_its_own_desired(broker, identities):
    device = Client(broker, username="desk-a", password=identities["desk-a"], client_id="desk-a")
    backend = Client(broker, client_id="idtest-backend")
    try:
        assert device.subscribe(topic("desk", "desk-a", "desired")) == [1]
        assert device.subscribe(topic("desk", "desk-b", "desired")) == [128]
        assert device.subscribe(f"labs/v1/{SITE}/#") == [128]
        backend.publish(topic("desk", "desk-b", "desired"), {"v": 1})
        backend.publish(topic("desk", "desk-a", "desired"), {"v": 2})
        wait_until(lambda: device.messages, message="its own desired")
        time.sleep(0.2)
        assert [t for t, _ in device.messages] == [topic("desk", "desk-a", "desired")]
    finally:
        device.close()
        backend.close()


def test_a_connecting_device_gets_no_retained_message_of_another_device(broker, identities):
    """The backend subscribes to every device's ``reported`` and ``status`` (retained): a device that connects
    afterwards must not be sent them. amqtt 0.12.1 sent every connecting session the retained messages of every
    filter anyone had subscribed to (labs/mqtt_broker_auth.py)."""
    backend = Client(broker, client_id="idtest-backend")
    backend.subscribe(f"labs/v1/{SITE}/+/+/reported")
    other = Client(broker, username="desk-b", password=identities["desk-b"], client_id="desk-b")
    other.publish(topic("desk", "desk-b", "reported"), {"v_applied": 1, "height_mm": 700}, retain=True)
    wait_until(lambda: backend.messages, message="the backend to get desk-b's report")
    device = Client(broker, username="desk-a", password=identities["desk-a"], client_id="desk-a")
    try:
        assert device.accepted
        assert device.subscribe(topic("desk", "desk-a", "desired")) == [1]
        time.sleep(0.5)
        assert device.messages == []
    finally:
        device.close()
        other.close()
        backend.close()


def test_a_last_will_on_another_devices_desired_never_arrives(broker, identities):
    backend = Client(broker, client_id="idtest-backend")
    backend.subscribe(f"labs/v1/{SITE}/+/+/desired")
    sneaky = Client(
        broker,
        username="desk-a",
        password=identities["desk-a"],
        client_id="desk-a",
        will=topic("desk", "desk-b", "desired"),
    )
    try:
        if sneaky.accepted:  # Mosquitto may accept the CONNECT; the Will must still never be published
            sneaky.abort()
        time.sleep(1.0)
        assert backend.messages == []
    finally:
        backend.close()
        sneaky.close()


def test_rotating_ends_the_old_password(broker, identities):
    old = identities["desk-a"]
    connected = Client(broker, username="desk-a", password=old, client_id="desk-a")
    assert connected.accepted
    new = _issue("desk-a", "desk", broker)
    try:
        again = Client(broker, username="desk-a", password=old, client_id="desk-a")
        fresh = Client(broker, username="desk-a", password=new, client_id="desk-a")
        assert not again.accepted
        assert fresh.accepted
        again.close()
        fresh.close()
    finally:
        connected.close()


def test_rotating_or_revoking_kicks_the_connected_device_off(broker):
    """Mosquitto kicks the deleted client at once; the embedded broker finds the changed hash within seconds."""
    from labs.mqtt_credentials import mqtt_credential_revoke

    password = _issue("desk-k", "desk", broker)
    device = Client(broker, username="desk-k", password=password, client_id="desk-k")
    bystander = Client(broker, username="desk-j", password=_issue("desk-j", "desk", broker), client_id="desk-j")
    assert device.accepted and bystander.accepted
    _issue("desk-k", "desk", broker)
    try:
        assert device.disconnected.wait(8)
        revoked = Client(broker, username="desk-j", password=_issue("desk-j", "desk", broker), client_id="desk-j")
        bystander.close()
        assert revoked.accepted and not revoked.disconnected.wait(3)  # the others stay connected
        with override_settings(MQTT_URL=broker):
            mqtt_credential_revoke(username="desk-j")
        assert revoked.disconnected.wait(8)
        revoked.close()
    finally:
        device.close()
        bystander.close()


def test_identities_issued_offline_connect_once_mosquitto_starts_and_only_to_their_own_topics(settings):
    """Thousands of devices onboarded at once are written into the stopped broker's dynamic-security file
    (mqtt_credentials_issue_offline): issued, hashed here, and in force when Mosquitto starts; a device still may
    subscribe only to its own ``desired``, and a wrong password is refused."""
    import shutil
    import tempfile
    from pathlib import Path

    from labs.mqtt_credentials import mqtt_credential_authenticate, mqtt_credentials_issue_offline
    from tests.services import require

    require("the mosquitto binary", comfort_fixtures._has_mosquitto())
    data_dir = Path(tempfile.mkdtemp(prefix="offline-mosquitto-"))
    broker = comfort_fixtures.Mosquitto(data_dir)
    settings.MQTT_URL, settings.MQTT_DYNSEC = broker.url, True
    try:
        issued = mqtt_credentials_issue_offline(
            identities=[(f"desk-off-{n}", SITE, "desk") for n in range(60)],
            dynsec_file=data_dir / "dynamic-security.json",
        )
        assert len({c.password for c in issued}) == 60
        assert (
            mqtt_credential_authenticate(username="desk-off-7", password=issued[7].password).device_id == "desk-off-7"
        )
        broker.start()
        device = Client(broker.url, username="desk-off-7", password=issued[7].password, client_id="desk-off-7")
        wrong = Client(broker.url, username="desk-off-8", password=issued[7].password, client_id="desk-off-8")
        try:
            assert device.accepted
            assert not wrong.accepted
            assert device.subscribe(topic("desk", "desk-off-7", "desired")) == [1]
            assert device.subscribe(topic("desk", "desk-off-8", "desired")) == [128]  # another device's: refused
        finally:
            device.close()
            wrong.close()
    finally:
        broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_issuing_offline_again_rotates_and_a_readers_name_is_refused(tmp_path, settings):
    """Offline issue follows the single issue's rules: issuing again replaces the password (the old one no longer
    authenticates) and a username that belongs to a reader is a Conflict, with nothing written."""
    import json

    from labs.errors import Conflict
    from labs.mqtt_credentials import mqtt_credential_authenticate, mqtt_credentials_issue_offline

    dynsec = tmp_path / "dynamic-security.json"
    dynsec.write_text(json.dumps({"clients": [], "roles": []}))
    [first] = mqtt_credentials_issue_offline(identities=[("desk-r", SITE, "desk")], dynsec_file=dynsec)
    [second] = mqtt_credentials_issue_offline(identities=[("desk-r", SITE, "desk")], dynsec_file=dynsec)
    assert mqtt_credential_authenticate(username="desk-r", password=first.password) is None
    assert mqtt_credential_authenticate(username="desk-r", password=second.password).device_id == "desk-r"
    assert [c["username"] for c in json.loads(dynsec.read_text())["clients"]] == ["desk-r"]
    settings.MQTT_DYNSEC = False  # the reader is issued for the embedded broker: no Mosquitto to tell
    _issue("reader-r", "reader", None)
    before = dynsec.read_text()
    with pytest.raises(Conflict):
        mqtt_credentials_issue_offline(identities=[("reader-r", SITE, "desk")], dynsec_file=dynsec)
    assert dynsec.read_text() == before
