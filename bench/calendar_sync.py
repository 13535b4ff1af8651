"""Calendar sync bench: requests and time of an incremental sync against the number of events on the room's calendar
(100, 1,000, 10,000) and of changes since the last sync (0, 1, 100), for each provider, against the fakes.

The target (shared/PERFORMANCE.md): an unchanged calendar costs one API request, and the cost grows with the number
of changes, not of events. For each size the bench links a fresh room to a fresh resource calendar holding that many
events (one every 15 minutes, booked through the bookings services by the first, full, sync), then measures, three
times each, an incremental sync after 0, 1 and 100 changes made at the provider (retitles and shortened meetings),
with the real client libraries against the fake served on loopback. Beside each figure: the raw limit of the same
run, one bare ``events.list`` with the sync token through the same client library (``raw_ms``), as a ratio.

Providers are entries of :data:`PROVIDERS`: a function returning a harness (:class:`GoogleHarness`,
:class:`MicrosoftHarness`: ``new_calendar``, ``seed``, ``change``, ``requests_for``, ``raw_incremental``, ``close``) or
None when the provider is not installed. Microsoft's raw limit is one bare GET of the deltaLink with requests.

Database: DATABASE_URL if set, else PostgreSQL at 127.0.0.1 (database labs_calendar_bench, recreated) if reachable,
else SQLite in /tmp. Prints the figures and writes bench/results/calendar_sync.json.
Usage: ``.venv/bin/python bench/calendar_sync.py [--sizes 100,1000,10000] [--changes 0,1,100] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "calendar_sync.json"
BENCH_DB = "labs_calendar_bench"
TARGETS = {"unchanged_sync_requests": 1}


def choose_database() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2) as c:
            c.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {BENCH_DB}")
        return f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
    except Exception:  # noqa: BLE001 - no PostgreSQL here: SQLite
        path = Path(tempfile.gettempdir()) / "labs-calendar-bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"


def slots(count: int, *, first_day: datetime) -> list[tuple[datetime, datetime]]:
    """``count`` 15-minute meetings, back to back from 00:00 to 23:45 local, day after day."""
    out = []
    day = first_day
    while len(out) < count:
        for quarter in range(95):  # 00:00 .. 23:30 starts: none crosses midnight
            start = day + timedelta(minutes=15 * quarter)
            out.append((start, start + timedelta(minutes=15)))
            if len(out) == count:
                break
        day += timedelta(days=1)
    return out


class GoogleHarness:
    """The fake Google in a thread, a tenant with a service account, and a connection of the bench site to it."""

    name = "google"

    def __init__(self, site, staff):
        from django.conf import settings

        from calendars import services
        from calendars.fakes.google import FakeGoogle, Tenant, make_service_account
        from calendars.fakes.server import FakeServer

        self.tenant = Tenant(domain="bench.test", timezone=site.timezone)
        self.tenant.add_user("sync@bench.test", admin=True)
        self.fake = FakeGoogle(self.tenant)
        self.server = FakeServer(self.fake).start()
        account, public = make_service_account("bench@bench.iam.example", token_uri=f"{self.server.base_url}/token")
        self.tenant.service_accounts[account["client_email"]] = public
        settings.GOOGLE_API_ENDPOINT = f"{self.server.base_url}/calendar/v3/"
        settings.GOOGLE_ADMIN_API_ENDPOINT = f"{self.server.base_url}/"
        self.connection = services.connection_create(
            actor=staff,
            site=site,
            provider="google",
            name="Bench Google",
            credentials={"service_account": account, "subject": "sync@bench.test"},
        )

    def new_calendar(self, index: int, capacity: int) -> str:
        calendar_id = f"room{index}@resource.bench.test"
        self.tenant.add_room(calendar_id, name=f"Room {index}", capacity=capacity)
        return calendar_id

    def seed(self, calendar_id: str, meetings) -> None:
        self.ids = self.fake.seed_slots(calendar_id, meetings)

    def change(self, calendar_id: str, count: int, round_: int) -> None:
        for index in range(count):
            event_id = self.ids[(index * 7 + round_) % len(self.ids)]
            event = self.fake.event_on(calendar_id, event_id)
            if index % 2:
                self.fake.user_event_patch(event_id, summary=f"Renamed {round_}.{index}")
            else:
                start = datetime.fromisoformat(event["start"]["dateTime"])
                end = datetime.fromisoformat(event["end"]["dateTime"])
                shorter = end - timedelta(minutes=5) if end - start > timedelta(minutes=15) else end
                longer = start + timedelta(minutes=15) if shorter == end else shorter
                self.fake.user_event_patch(event_id, start=start, end=longer)

    def requests_for(self, calendar_id: str) -> int:
        return len(self.fake.requests_for(calendar_id))

    def raw_incremental(self, calendar_id: str, token: str) -> float:
        """One bare events.list with the sync token through google-api-python-client (the raw limit)."""
        from calendars import providers

        adapter = providers.provider_for(self.connection)
        service = adapter._service("calendar")
        request = service.events().list(calendarId=calendar_id, singleEvents=True, syncToken=token)
        started = time.perf_counter()
        request.execute(num_retries=0)
        return time.perf_counter() - started

    def close(self) -> None:
        self.server.stop()


class MicrosoftHarness:
    """The fake Microsoft identity platform and Graph (TLS, in a thread), a tenant with a service mailbox, and a
    connection of the bench site to it: msal and requests as in production, trusting the fake's CA."""

    name = "microsoft"
    organiser = "organiser@partner.test"

    def __init__(self, site, staff):
        from django.conf import settings

        from bookings.models import BookingPolicy
        from calendars import services
        from calendars.fakes.microsoft import FakeMicrosoft

        # A change here shortens a meeting to 10 minutes (a retitle would not show: room mailboxes rewrite subjects).
        BookingPolicy.objects.filter(site=site).update(min_duration_minutes=5)
        self.fake = FakeMicrosoft(state_dir=Path(tempfile.mkdtemp(prefix="bench-fake-microsoft-"))).start()
        self.fake.transport = _echo_validation  # Graph's handshake, answered without a web server
        self.fake.add_user("labs-bookings@bench.test", "Labs bookings")
        for name, value in self.fake.settings().items():
            setattr(settings, name, value)
        self.connection = services.connection_create(
            actor=staff,
            site=site,
            provider="microsoft",
            name="Bench Microsoft 365",
            credentials={**self.fake.credentials(), "service_mailbox": "labs-bookings@bench.test"},
        )
        self.copies: dict[str, list] = {}

    def new_calendar(self, index: int, capacity: int) -> str:
        calendar_id = f"room{index}@bench.test"
        self.fake.add_room(calendar_id, f"Room {index}", capacity=capacity)
        return calendar_id

    def seed(self, calendar_id: str, meetings) -> None:
        self.copies[calendar_id] = self.fake.seed_meetings(calendar_id, self.organiser, slots=meetings)

    def change(self, calendar_id: str, count: int, round_: int) -> None:
        """Shorten or restore meetings at the organiser's side (the room copy follows, as at Exchange): the room
        mailbox rewrites subjects, so a retitle would not show on the room's calendar."""
        copies = self.copies[calendar_id]
        for index in range(count):
            copy = copies[(index * 7 + round_) % len(copies)]
            original = next(e for e in self.fake.mailbox(self.organiser).events.values() if e.ical_uid == copy.ical_uid)
            shorter = original.end - original.start > timedelta(minutes=10)
            end = original.start + timedelta(minutes=10 if shorter else 15)
            self.fake.outlook_move(self.organiser, original.id, start=original.start, end=end)

    def requests_for(self, calendar_id: str) -> int:
        return self.fake.count(mailbox=calendar_id)

    def raw_incremental(self, calendar_id: str, token: str) -> float:
        """One bare GET of the deltaLink with requests and the adapter's token (the raw limit)."""
        import requests

        from calendars import providers

        adapter = providers.provider_for(self.connection)
        headers = {"Authorization": f"Bearer {adapter._access_token()}", "Prefer": 'outlook.timezone="UTC"'}
        if getattr(self, "session", None) is None:
            self.session = requests.Session()  # kept: the raw limit runs on a warm connection
        started = time.perf_counter()
        self.session.get(token, headers=headers, verify=self.fake.ca_bundle, timeout=30).raise_for_status()
        return time.perf_counter() - started

    def close(self) -> None:
        self.fake.stop()


def _echo_validation(url: str, **_kwargs) -> tuple[int, str]:
    from urllib.parse import parse_qs, urlsplit

    return 200, (parse_qs(urlsplit(url).query).get("validationToken") or [""])[0]


PROVIDERS = {"google": GoogleHarness, "microsoft": MicrosoftHarness}


def measure(harness, *, index: int, size: int, changes: list[int], repeat: int, site, staff) -> dict:
    from bookings.models import Room
    from calendars import services, sync
    from calendars.models import RoomCalendar
    from labs.models import Floor

    calendar_id = harness.new_calendar(index, capacity=10)
    floor = Floor.objects.filter(site=site).first()
    room = Room.objects.create(site=site, floor=floor, name=f"Bench room {index}", capacity=10)
    tz = site.tz
    first_day = (datetime.now(tz) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    harness.seed(calendar_id, slots(size, first_day=first_day))
    started = time.perf_counter()  # linking runs the first, full, sync (eager Celery, after commit)
    calendar = services.room_calendar_link(
        actor=staff, room=room, connection=harness.connection, calendar_id=calendar_id
    )
    full_seconds = time.perf_counter() - started
    first = RoomCalendar.objects.get(pk=calendar.pk)
    booked = room.bookings.filter(status="confirmed").count()
    row = {
        "events": size,
        "booked": booked,
        "first_full_sync": {"requests": first.last_sync_requests, "seconds": round(full_seconds, 3)},
        "incremental": {},
    }
    for count in changes:
        runs = []
        for round_ in range(repeat):
            harness.change(calendar_id, count, round_)
            token = RoomCalendar.objects.get(pk=calendar.pk).sync_token
            raw = harness.raw_incremental(calendar_id, token)
            before = harness.requests_for(calendar_id)
            started = time.perf_counter()
            result = sync.calendar_sync(calendar_id=calendar.pk)
            seconds = time.perf_counter() - started
            runs.append(
                {
                    "requests": result.requests,
                    "provider_saw": harness.requests_for(calendar_id) - before,
                    "applied": result.inbound,
                    "seconds": seconds,
                    "raw_seconds": raw,
                }
            )
        median = statistics.median(r["seconds"] for r in runs)
        raw = statistics.median(r["raw_seconds"] for r in runs)
        row["incremental"][str(count)] = {
            "requests": max(r["requests"] for r in runs),
            "provider_saw": max(r["provider_saw"] for r in runs),
            "applied": runs[-1]["applied"],
            "ms": round(median * 1000, 2),
            "raw_ms": round(raw * 1000, 2),
            "ratio_to_raw": round(median / raw, 1) if raw else None,
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--changes", default="0,1,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    changes = [int(c) for c in args.changes.split(",")]

    database_url = choose_database()
    var = Path(tempfile.mkdtemp(prefix="calendar-bench-var-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labs.settings",
            "DATABASE_URL": database_url,
            "LABS_VAR_DIR": str(var),
            "LOG_LEVEL": "WARNING",
            "DJANGO_DEBUG": "false",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CALENDAR_SYNC_FUTURE_DAYS": "180",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bookings.models import BookingPolicy
    from labs import services as labs_services
    from labs.choices import Role
    from labs.models import Floor, Site

    call_command("migrate", verbosity=0)
    site, _ = Site.objects.get_or_create(slug="bench", defaults={"name": "Bench", "timezone": "Europe/Copenhagen"})
    Floor.objects.get_or_create(site=site, level=1, defaults={"name": "Floor 1"})
    BookingPolicy.objects.update_or_create(
        site=site,
        defaults={"opens_at": "00:00", "closes_at": "23:59", "max_days_ahead": 366, "max_duration_minutes": 480},
    )
    staff = labs_services.person_create(username=f"bench-staff-{int(time.time())}", role=Role.STAFF, site=site)
    print(f"calendar sync bench: {connection.vendor} ({database_url.split('@')[-1]})")
    report = {"database": connection.vendor, "providers": {}, "targets": TARGETS}
    index = 0
    for name in args.providers.split(","):
        harness = PROVIDERS[name](site, staff)
        if harness is None:
            print(f"  {name}: not installed here, skipped")
            report["providers"][name] = "not installed"
            continue
        rows = []
        try:
            for size in sizes:
                index += 1
                print(f"  {name}: {size} events ...", flush=True)
                row = measure(
                    harness, index=index, size=size, changes=changes, repeat=args.repeat, site=site, staff=staff
                )
                rows.append(row)
                full = row["first_full_sync"]
                print(
                    f"    first (full) sync: {full['requests']} requests (listing pages and the channel), "
                    f"{full['seconds']} s, {row['booked']} booked"
                )
                for count, figures in row["incremental"].items():
                    print(
                        f"    {count:>3} changes: {figures['requests']} request(s) (provider saw "
                        f"{figures['provider_saw']}), {figures['ms']} ms, raw request {figures['raw_ms']} ms "
                        f"(x{figures['ratio_to_raw']})"
                    )
        finally:
            harness.close()
        report["providers"][name] = rows
        unchanged = {r["events"]: r["incremental"].get("0", {}).get("requests") for r in rows}
        print(f"  {name}: an unchanged calendar cost {unchanged} request(s) (target: 1)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
