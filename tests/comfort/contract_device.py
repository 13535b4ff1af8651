"""A second, minimal desk written from docs/mqtt.md alone (it imports nothing of the project), so the contract
tests prove the backend works with any device that follows the page, not only with our simulator."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho


class MinimalDesk:
    def __init__(self, device_id: str, site: str) -> None:
        self.device_id, self.site = device_id, site
        self.version = 0
        self.height = 740
        self.answers: dict[str, dict] = {}
        self.seen: list[dict] = []

    def topic(self, leaf: str) -> str:
        return f"labs/v1/{self.site}/desk/{self.device_id}/{leaf}"

    def _answer(self, doc, code, detail, **extra):
        ack = {"cmd_id": doc["cmd_id"], "av": doc["v"], "ac": code, "ad": detail, **extra}
        self.answers[doc["cmd_id"]] = ack
        return ack

    def on_desired(self, doc: dict, now: float = 0.0) -> list[tuple[str, dict, int, bool]]:
        """Returns (leaf, payload, qos, retain) messages, like the simulator's devices."""
        self.seen.append(doc)
        if doc["cmd_id"] in self.answers:
            return [("ack", self.answers[doc["cmd_id"]], 1, False)]
        if doc["v"] <= self.version:
            return [("ack", self._answer(doc, 409, f"stale version (have {self.version})"), 1, False)]
        height = doc.get("desired", {}).get("height_mm")
        if not isinstance(height, int) or not 620 <= height <= 1270:
            return [("ack", self._answer(doc, 400, "height_mm out of range 620..1270"), 1, False)]
        self.version, self.height = doc["v"], height
        reported = {"v_applied": self.version, "height_mm": self.height, "moving": False}
        return [
            ("ack", self._answer(doc, 200, "applied", reported={"height_mm": height}), 1, False),
            ("reported", reported, 1, True),
        ]

    # --- over MQTT, with paho (one device: select() is fine) ---
    def connect(self, host: str, port: int, password: str | None = None) -> paho.Client:
        import socket

        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.device_id, protocol=paho.MQTTv311, clean_session=False
        )
        if password:  # the credentials the backend issued: username = client id = device id
            client.username_pw_set(self.device_id, password)
        client.will_set(self.topic("status"), json.dumps({"status": "offline"}), qos=1, retain=True)
        client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connected = threading.Event()

        def on_connect(c, userdata, flags, reason_code, properties):
            c.publish(self.topic("status"), json.dumps({"status": "online"}), qos=1, retain=True)
            c.subscribe(self.topic("desired"), qos=1)
            connected.set()

        def on_message(c, userdata, message):
            for leaf, payload, qos, retain in self.on_desired(json.loads(message.payload)):
                c.publish(self.topic(leaf), json.dumps(payload), qos=qos, retain=retain)

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(host, port, keepalive=30)
        client.loop_start()
        if not connected.wait(10):
            raise AssertionError("the minimal desk could not connect")
        return client
