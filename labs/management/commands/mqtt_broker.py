"""``manage.py mqtt_broker``: the embedded amqtt broker for a bare machine, or a placeholder when MQTT_URL is set.

amqtt speaks MQTT 3.1.1 only and slows down past a few hundred clients: it serves ``make run`` and the embedded test
path, not load tests. It refuses anonymous clients and enforces the same per-device rule as the project's Mosquitto
(labs/mqtt_broker_auth.py): the backend's secret, the devices' issued credentials, each identity on its own topics.
With ``MQTT_URL`` set the real broker is used and this process just idles until SIGTERM/SIGINT, because honcho stops
every process as soon as one exits.
"""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand


async def serve(*, host: str, port: int, ready=None, stop: asyncio.Event | None = None) -> None:
    """Run an amqtt broker until ``stop`` is set (asyncio sets TCP_NODELAY on every accepted socket)."""
    from labs.mqtt_broker_auth import LabsBroker, broker_config

    broker = LabsBroker(broker_config(host=host, port=port))
    await broker.start()
    if ready:
        ready()
    stop = stop or asyncio.Event()
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


class Command(BaseCommand):
    help = "Run the embedded MQTT broker (amqtt) unless MQTT_URL names an external one."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="default: settings.MQTT_EMBEDDED_PORT")

    def handle(self, *args, host="127.0.0.1", port=None, **options):
        asyncio.run(self._main(host, port or settings.MQTT_EMBEDDED_PORT))

    async def _main(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if not settings.MQTT_EMBEDDED:
            from labs.mqtt import parse_url

            self.stdout.write(f"mqtt_broker: MQTT_URL is set; using the external broker {parse_url()}. Idling.")
            self.stdout.flush()
            await stop.wait()
            return
        await serve(
            host=host,
            port=port,
            ready=lambda: (self.stdout.write(f"mqtt_broker: amqtt listening on {host}:{port}"), self.stdout.flush()),
            stop=stop,
        )
        self.stdout.write("mqtt_broker: stopped")
