"""``manage.py simulate_devices``: the demo site's desks, HVAC zones and fans (or N synthetic ones) over MQTT.

Every simulated device gets fresh MQTT credentials through labs.mqtt_credentials when the command starts (the broker
refuses anonymous clients) and connects with them; ``--url`` names the broker (default MQTT_URL, with the backend's
account, which provisions them into Mosquitto's dynamic security)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from comfort.models import Device
from comfort.simulator import Faults, Simulator, make_device, provision
from labs import simulators


class Command(BaseCommand):
    help = "Simulate comfort devices, each with its own MQTT connection, in one asyncio process."

    def add_arguments(self, parser):
        parser.add_argument("--site", help="simulate this site's devices from the database (e.g. cph)")
        parser.add_argument("--count", type=int, default=0, help="simulate N synthetic devices instead")
        parser.add_argument(
            "--kinds", default="desk", help="kinds of the synthetic devices, round robin: desk,hvac,fan"
        )
        parser.add_argument("--prefix", default="sim", help="id prefix of the synthetic devices")
        parser.add_argument("--synthetic-site", default="sim", help="site slug in the synthetic devices' topics")
        parser.add_argument("--url", default=None, help="broker URL (default: settings.MQTT_URL)")
        parser.add_argument("--desk-speed", type=float, default=35.0, help="mm/s; 0 moves instantly")
        parser.add_argument("--telemetry", type=float, default=30.0, help="seconds between telemetry; 0 for none")
        parser.add_argument("--drop-acks", type=float, default=0.0, help="probability of dropping an ack")
        parser.add_argument("--ack-delay", type=float, default=0.0, help="seconds before answering a command")
        parser.add_argument("--reject", action="store_true", help="reject every command (422)")
        parser.add_argument("--offline", default="", help="comma-separated device ids that stay offline")
        parser.add_argument("--no-extra", action="store_true", help="skip other apps' simulators (badge readers)")
        parser.add_argument(
            "--credentials",
            help="a JSON file {device id: password} of credentials already issued (mqtt_credentials_issue_offline); "
            "devices not in it are issued theirs as usual",
        )

    def handle(self, *args, **opts):
        faults = Faults(drop_acks=opts["drop_acks"], ack_delay_s=opts["ack_delay"], reject=opts["reject"])
        offline = {d for d in opts["offline"].split(",") if d}
        devices = []
        if opts["site"]:
            rows = Device.objects.select_related("site").filter(site__slug=opts["site"], is_active=True)
            for row in rows:
                extra = {"speed_mm_s": opts["desk_speed"]} if row.kind == "desk" else {}
                device_faults = Faults(**{**faults.__dict__, "offline": row.device_id in offline})
                devices.append(make_device(row.kind, row.device_id, row.site.slug, faults=device_faults, **extra))
        kinds = [k.strip() for k in opts["kinds"].split(",") if k.strip()]
        for n in range(opts["count"]):
            kind = kinds[n % len(kinds)]
            extra = {"speed_mm_s": opts["desk_speed"]} if kind == "desk" else {}
            device_id = f"{opts['prefix']}-{kind}-{n:05d}"
            devices.append(make_device(kind, device_id, opts["synthetic_site"], faults=faults, **extra))
        if not devices and not opts["site"]:
            raise CommandError("Give --site SLUG or --count N.")
        url = opts["url"] or settings.MQTT_URL
        # Each simulated device connects under its own identity: issue (rotate) its credentials as an operator would,
        # unless they were issued already (thousands at once are written offline: labs/mqtt_dynsec.py).
        issued = json.loads(Path(opts["credentials"]).read_text()) if opts["credentials"] else {}
        for device in devices:
            device.password = issued.get(device.device_id)
        provision([d for d in devices if d.password is None], broker_url=url)
        simulator = Simulator(devices, url=url, telemetry_s=opts["telemetry"])
        extras = {} if opts["no_extra"] or not opts["site"] else simulators.registered()
        self.stdout.write(
            f"simulate_devices: {len(devices)} devices, each with its own MQTT credentials just issued"
            + (f" + {', '.join(extras)}" if extras else "")
            + f" on {url.split('@')[-1]}"
        )
        self.stdout.flush()
        asyncio.run(self._main(simulator, extras, opts["site"], url))

    async def _main(self, simulator: Simulator, extras: dict, site: str | None, url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        async def report():
            await asyncio.to_thread(simulator.ready.wait)
            self.stdout.write(f"simulate_devices: connected in {simulator.connect_seconds:.2f} s")
            self.stdout.flush()

        await asyncio.gather(
            simulator.run(stop), report(), *(factory(site=site, url=url, stop=stop) for factory in extras.values())
        )
