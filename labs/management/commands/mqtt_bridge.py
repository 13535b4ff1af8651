"""``manage.py mqtt_bridge``: drain the outbox and feed incoming device messages to the registered handlers."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from labs import mqtt, mqtt_router
from labs.mqtt_bridge import Bridge
from labs.runtime import freeze_startup_objects


class Command(BaseCommand):
    help = "Run the MQTT bridge: publish the outbox, dispatch acks, reports, status, telemetry and scans."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=None, help="broker URL (default: settings.MQTT_URL)")
        parser.add_argument("--poll", type=float, default=0.05, help="seconds between outbox polls when idle")

    def handle(self, *args, url=None, poll=0.05, **options):
        bridge = Bridge(url=url, poll_s=poll)

        def stop(signum, frame):
            bridge.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(
            f"mqtt_bridge: {mqtt.parse_url(url)} as {mqtt.client_id('bridge')}; "
            f"topics {', '.join(mqtt_router.subscriptions()) or '(none)'}"
        )
        bridge.start()

        def announce():  # a line to wait for (benches, ops): the subscriptions are in place
            if bridge.subscribed.wait(60):
                self.stdout.write("mqtt_bridge: subscribed")
                self.stdout.flush()

        threading.Thread(target=announce, daemon=True).start()
        freeze_startup_objects()  # the batches' full garbage collections walk only what came later (labs/runtime.py)
        bridge.run()
        self.stdout.write(
            f"mqtt_bridge: stopped after {bridge.handled} messages in ({bridge.batches} batches), "
            f"{bridge.published} published"
        )
