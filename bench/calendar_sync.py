"""Calendar sync bench: provider requests and wall time of an incremental sync of one room's calendar, by the number
of events on it (100 / 1,000 / 10,000) and of changes since the last sync (0 / 1 / 100).

CALENDAR.md behaviour 4 says the cost grows with the number of changes, not of events: an unchanged calendar costs
one request. For each size the bench links a room to a calendar that already holds that many meetings (the link's
full sync books them all, measured too), then for each number of changes moves that many meetings at the provider
and times one incremental sync of the engine (``calendars.sync.calendar_sync``: push, pull, watch), through the real
client libraries against the in-process fake, and the database (SQLite in a temporary directory, or DATABASE_URL).

Providers: ``microsoft`` (msal + requests against calendars/fakes/microsoft.py, over TLS). Each provider is one
function ``run_<provider>(sizes, changes) -> list[dict]`` below; the Google one joins beside it.

Usage: ``.venv/bin/python bench/calendar_sync.py [--provider microsoft] [--sizes 100,1000,10000] [--changes 0,1,100]``.
Prints a table and writes bench/results/calendar_sync.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "calendar_sync.json"
MEETING = timedelta(minutes=15)
EVERY = timedelta(minutes=20)  # 10,000 meetings fill about 139 days of the 180-day window
MOVE = timedelta(minutes=3)  # a change: a meeting moves within its gap, so it never conflicts


def setup_django(state: Path, extra_env: dict[str, str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labs.settings")
    os.environ.setdefault("LABS_VAR_DIR", str(state))
    if not os.environ.get("DATABASE_URL"):
        os.environ["SQLITE_PATH"] = str(state / "bench.sqlite3")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(extra_env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)


def world(slug: str):
    """A site, its staff, and a room that books around the clock (the bench measures sync, not opening hours)."""
    from bookings.models import Room
    from labs import services as labs_services
    from labs.choices import Role
    from labs.models import Floor, Site

    site = Site.objects.create(slug=slug, name=f"Bench {slug}", timezone="Europe/Copenhagen")
    floor = Floor.objects.create(site=site, level=1, name="First floor")
    staff = labs_services.person_create(
        username=f"staff-{slug}", role=Role.STAFF, site=site, email=f"staff@{slug}.test"
    )
    room = Room.objects.create(
        site=site,
        floor=floor,
        name="Bench room",
        capacity=50,
        opens_at=dtime(0, 0),
        closes_at=dtime(23, 59),
        max_days_ahead=366,
        min_duration_minutes=5,
    )
    return site, staff, room


def measure(calendar_id: int) -> tuple[float, int, int]:
    from calendars import sync

    started = time.perf_counter()
    result = sync.calendar_sync(calendar_id=calendar_id)
    return time.perf_counter() - started, result.requests, result.inbound


# --- Microsoft ----------------------------------------------------------------------------------------------------


def run_microsoft(sizes: list[int], changes: list[int]) -> list[dict]:
    from calendars.fakes.microsoft import FakeMicrosoft

    state = Path(tempfile.mkdtemp(prefix="bench-calendar-"))
    fake = FakeMicrosoft(state_dir=state / "fake-microsoft").start()
    setup_django(state, fake.settings())
    from bookings.choices import HOLDING_STATUSES
    from bookings.models import Booking
    from calendars import services
    from calendars.models import RoomCalendar

    rows = []
    try:
        for size in sizes:
            room_address = f"bench-{size}@contoso.test"
            fake.add_room(room_address, f"Bench {size}", capacity=50)
            fake.add_user("labs-bookings@contoso.test", "Labs bookings")
            first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
            copies = fake.seed_meetings(
                room_address, "organiser@partner.test", count=size, first=first, every=EVERY, duration=MEETING
            )
            site, staff, room = world(f"ms{size}")
            connection = services.connection_create(
                actor=staff,
                site=site,
                provider="microsoft",
                name="Bench",
                credentials={**fake.credentials(), "service_mailbox": "labs-bookings@contoso.test"},
            )
            fake.transport = lambda url, **kwargs: (200, _echo(url))  # the handshake, without a web server
            started = time.perf_counter()
            services.room_calendar_link(actor=staff, room=room, connection=connection, calendar_id=room_address)
            full_seconds = time.perf_counter() - started
            calendar = RoomCalendar.objects.get(room=room)
            booked = Booking.objects.filter(room=room, status__in=HOLDING_STATUSES).count()
            rows.append(
                {
                    "provider": "microsoft",
                    "events": size,
                    "changes": "full sync (link)",
                    "requests": calendar.last_sync_requests,
                    "seconds": round(full_seconds, 3),
                    "applied": booked,
                }
            )
            organisers = fake.mailbox("organiser@partner.test").events
            moved = 0
            for count in changes:
                for copy in copies[moved : moved + count]:
                    original = next(e for e in organisers.values() if e.ical_uid == copy.ical_uid)
                    fake.outlook_move(
                        "organiser@partner.test", original.id, start=original.start + MOVE, end=original.end + MOVE
                    )
                moved += count
                seconds, requests, applied = measure(calendar.pk)
                rows.append(
                    {
                        "provider": "microsoft",
                        "events": size,
                        "changes": count,
                        "requests": requests,
                        "seconds": round(seconds, 3),
                        "applied": applied,
                    }
                )
    finally:
        fake.stop()
    return rows


def _echo(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return (parse_qs(urlsplit(url).query).get("validationToken") or [""])[0]


RUNNERS = {"microsoft": run_microsoft}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=sorted(RUNNERS), default="microsoft")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--changes", default="0,1,100")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    changes = [int(x) for x in args.changes.split(",")]

    rows = RUNNERS[args.provider](sizes, changes)

    print(f"{'provider':<10} {'events':>7} {'changes':>18} {'requests':>9} {'seconds':>9} {'applied':>8}")
    for row in rows:
        print(
            f"{row['provider']:<10} {row['events']:>7} {row['changes']!s:>18} {row['requests']:>9} "
            f"{row['seconds']:>9.3f} {row['applied']:>8}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[args.provider] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
