"""`manage.py calendar_fakes`: serve the fake providers (tests use them in a thread; `make run` runs this).

Each fake is a module with ``serve(*, state_dir: Path, port: int, stdout) -> handle`` (``handle.stop()`` saves
and stops it). ``--only google`` serves one; a fake whose module is not installed is skipped with a note. The
Google fake serves the demo tenant that ``demo_site`` wrote (var/calendar-fakes/google-tenant.json) and keeps
its events in google-state.json, so a restart keeps the calendars (and the sync tokens) as they were.
"""

from __future__ import annotations

import importlib
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

FAKES = {
    "google": ("calendars.fakes.google", 9101),
    "microsoft": ("calendars.fakes.microsoft", 9102),
}


class Command(BaseCommand):
    help = "Serve the fake Google (and Microsoft) calendar providers on loopback, for make run and the bench."

    def add_arguments(self, parser):
        parser.add_argument("--only", default="", help="Comma-separated fakes to serve (default: all).")
        parser.add_argument("--state-dir", default="", help="Where tenants and state live (var/calendar-fakes).")
        for name, (_module, port) in FAKES.items():
            parser.add_argument(f"--{name}-port", type=int, default=port, help=f"Port of the {name} fake.")

    def handle(self, *args, **options):
        state_dir = Path(options["state_dir"] or Path(settings.VAR_DIR) / "calendar-fakes")
        state_dir.mkdir(parents=True, exist_ok=True)
        wanted = [n.strip() for n in options["only"].split(",") if n.strip()] or list(FAKES)
        handles = []
        for name in wanted:
            module_name, _port = FAKES[name]
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                self.stdout.write(f"{name}: not installed, skipped")
                continue
            serve = getattr(module, "serve", None)
            if serve is None:
                self.stdout.write(f"{name}: {module_name} has no serve(), skipped")
                continue
            handles.append(serve(state_dir=state_dir, port=options[f"{name}_port"], stdout=self.stdout))
        if not handles:
            self.stderr.write("No fake to serve.")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        for handle in handles:
            handle.stop()
