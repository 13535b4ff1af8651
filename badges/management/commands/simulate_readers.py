"""``manage.py simulate_readers --site cph``: simulated badge readers that scan over MQTT and print the decisions.

Without credentials, every active reader of the site presents the demo round every ``--interval`` seconds (see
badges.simulator.demo_scans). With ``--qr``, ``--card`` or ``--person`` it presents those, ``--rounds`` times (default
once), and exits with status 1 if a scan got no decision. The demo waits for the broker as long as it takes; given
credentials wait at most ``CONNECT_DEADLINE_S``.
"""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from badges import simulator

CONNECT_DEADLINE_S = 30.0


class Command(BaseCommand):
    help = "Simulate badge readers: scan credentials over MQTT and print the backend's decisions."

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="the site's slug, e.g. cph")
        parser.add_argument("--reader", action="append", default=[], help="reader id (repeatable; default: all)")
        parser.add_argument("--qr", action="append", default=[], help="present this QR value (repeatable)")
        parser.add_argument("--card", action="append", default=[], help="present this card UID (repeatable)")
        parser.add_argument(
            "--person", action="append", default=[], help="present this username's current badge code (repeatable)"
        )
        parser.add_argument("--rounds", type=int, default=None, help="rounds to run (default: forever for the demo)")
        parser.add_argument("--interval", type=float, default=simulator.DEMO_INTERVAL_S, help="seconds between rounds")
        parser.add_argument("--url", default=None, help="broker URL (default: settings.MQTT_URL)")

    def handle(self, *args, **opts):
        site = opts["site"]
        readers = opts["reader"] or simulator.site_reader_ids(site)
        if not readers:
            raise CommandError(f"No active reader at site {site!r}; run `manage.py demo_site` or add one in the admin.")
        explicit = bool(opts["qr"] or opts["card"] or opts["person"])
        rounds = opts["rounds"] if opts["rounds"] is not None else (1 if explicit else None)
        scans = self._explicit_scans(opts) if explicit else (lambda: simulator.demo_scans(site))
        url = opts["url"] or settings.MQTT_URL

        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        deadline = CONNECT_DEADLINE_S if explicit else None
        results = asyncio.run(self._main(site, readers, url, scans, opts["interval"], rounds, write, deadline))
        if explicit and (not results or any(result is None for result in results)):
            raise CommandError("A scan got no decision: is the broker up and `manage.py mqtt_bridge` running?")

    def _explicit_scans(self, opts):
        def build() -> list[simulator.Scan]:
            scans = [simulator.Scan("qr", value, "qr " + value[:16]) for value in opts["qr"]]
            scans += [simulator.Scan("card", value, "card " + value) for value in opts["card"]]
            for username in opts["person"]:
                code = simulator.current_code_for(username=username)
                if code is None:
                    self.stderr.write(f"{username} has no usable digital badge; skipped")
                    continue
                scans.append(simulator.Scan("qr", code, f"{username}'s phone"))
            return scans

        return build

    async def _main(self, site, readers, url, scans, interval, rounds, write, deadline):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await simulator.run_readers(
            site=site,
            readers=readers,
            url=url,
            stop=stop,
            scans=scans,
            interval_s=interval,
            rounds=rounds,
            write=write,
            connect_deadline_s=deadline,
            startup_wait_s=0.0 if deadline else simulator.STARTUP_WAIT_S,  # the demo waits for the bridge's start
        )
