"""Bookings benchmark: booking create over HTTP, the conflict path and the free-room search, each beside its raw limit.

    .venv/bin/python bench/bookings.py            # about 3-5 minutes on a 2-core machine
    BENCH_QUICK=1 .venv/bin/python bench/bookings.py   # fewer requests, for a smoke run

It (re)creates a dedicated PostgreSQL database (``labs_bench``, on loopback only), migrates it, seeds 500 rooms and
1,000,000 bookings with one ``INSERT ... SELECT generate_series`` (the exclusion constraints in place), starts
gunicorn as the Procfile runs it (2 sync workers) against it and measures, each beside the limit measured in the
same run:

- booking create over HTTP with 1 and 8 concurrent clients (req/s, p50, p99) beside plain psycopg INSERTs into the
  same constrained table from 1 and 8 connections;
- the conflict path: 50 identical requests released at once (exactly one 201, zero 5xx, zero overlaps), and the rate
  and latency of requests that all answer 409;
- which rooms are free for a one-hour window, through the API beside the selector's SQL alone.

It prints the figures and writes bench/results/bookings.json. Every loop is bounded in time and count; the database
is dropped at the end (``BENCH_KEEP=1`` keeps it).
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "labs_bench")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
QUICK = os.environ.get("BENCH_QUICK") == "1"
KEEP = os.environ.get("BENCH_KEEP") == "1"
ROOMS = 500
BOOKINGS_PER_ROOM = 2000  # 500 x 2000 = 1,000,000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

if urlsplit(SERVER).hostname not in LOOPBACK:
    raise SystemExit("The benchmark only talks to a database on loopback.")

ENV = {
    **os.environ,
    "DATABASE_URL": f"{SERVER}/{DB_NAME}",
    "DJANGO_SETTINGS_MODULE": "labs.settings",
    "DJANGO_DEBUG": "false",
    "LOG_LEVEL": "ERROR",
    "CELERY_TASK_ALWAYS_EAGER": "true",
}
os.environ.update({k: ENV[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "LOG_LEVEL")})

import psycopg  # noqa: E402

TARGETS = {
    "create_8_clients_p99_ms": 25,  # ../shared/PERFORMANCE.md: a ratio to raw and this p99, no absolute rate
    "create_vs_raw_ratio_min": 1 / 10,  # issue 14: at least 1/10 of the raw constrained INSERT
    "search_api_p50_ms": 20,
    "search_api_p99_ms": 50,
}


def log(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies: list[float], elapsed: float) -> dict:
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "per_s": round(len(latencies) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


# --- Database -----------------------------------------------------------------------------------------------------


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def migrate() -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=ENV, check=True, timeout=300
    )


def seed() -> dict:
    """Core rows through the ORM (a handful), rooms and bookings in bulk SQL. Returns ids the benchmark needs."""
    import django

    django.setup()
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from bookings.models import BookingPolicy
    from labs import services as labs_services
    from labs.choices import CompanyKind, Role
    from labs.models import Company, Floor, Site

    site = Site.objects.create(slug="bench", name="Bench", timezone="Europe/Copenhagen")
    floors = [Floor.objects.create(site=site, level=level, name=f"Floor {level}") for level in range(1, 6)]
    BookingPolicy.objects.create(site=site, max_days_ahead=400)
    company = Company.objects.create(site=site, name="Bench Co", kind=CompanyKind.BUSINESS_MEMBER)
    people = [
        labs_services.person_create(
            username=f"bench{i}", role=Role.EMPLOYEE, site=site, company=company, email=f"bench{i}@example.test"
        )
        for i in range(60)
    ]
    tokens = [Token.objects.create(user=p.user).key for p in people]

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO bookings_room (site_id, floor_id, name, capacity, amenities, is_active, buffer_minutes,
                                       google_calendar_id, microsoft_resource_email)
            SELECT %s, (ARRAY[%s, %s, %s, %s, %s])[1 + i %% 5], 'Room ' || lpad(i::text, 3, '0'), 2 + (i %% 12) * 2,
                   CASE i %% 4 WHEN 0 THEN '["screen", "video"]'::jsonb WHEN 1 THEN '["screen"]'::jsonb
                               WHEN 2 THEN '["whiteboard"]'::jsonb ELSE '[]'::jsonb END,
                   true, 0, '', ''
              FROM generate_series(1, %s) AS i
            """,
            [site.pk, *[f.pk for f in floors], ROOMS],
        )
        # 2000 one-hour bookings per room, one every 4 hours from 300 days ago (to about 33 days ahead): the past
        # ones completed, the future ones confirmed, one in 20 cancelled.
        cursor.execute(
            """
            INSERT INTO bookings_booking (uid, site_id, room_id, organiser_id, company_id, title, attendees, start,
                "end", hold_end, status, source, is_moved, override_reason, sequence, created_at, updated_at,
                checked_in_via)
            SELECT gen_random_uuid(), %(site)s, r.id, %(organiser)s, %(company)s, '', '[]'::jsonb, s.start,
                   s.start + interval '1 hour', s.start + interval '1 hour',
                   CASE WHEN g.i %% 20 = 0 THEN 'cancelled' WHEN s.start < now() THEN 'completed' ELSE 'confirmed' END,
                   'api', false, '', 0, now(), now(), ''
              FROM bookings_room r
              CROSS JOIN generate_series(0, %(per_room)s - 1) AS g(i)
              CROSS JOIN LATERAL (SELECT date_trunc('hour', now()) - interval '300 days'
                                         + g.i * interval '4 hours' + (r.id %% 4) * interval '30 minutes' AS start) s
             WHERE r.site_id = %(site)s
            """,
            {"site": site.pk, "organiser": people[-1].pk, "company": company.pk, "per_room": BOOKINGS_PER_ROOM},
        )
        cursor.execute("ANALYZE bookings_room")
        cursor.execute("ANALYZE bookings_booking")
        cursor.execute("SELECT count(*), max(id) FROM bookings_booking")
        count, max_id = cursor.fetchone()
        cursor.execute("SELECT min(id) FROM bookings_room WHERE site_id = %s", [site.pk])
        first_room = cursor.fetchone()[0]
    seconds = time.perf_counter() - started
    connection.close()
    return {
        "site_id": site.pk,
        "site_slug": site.slug,
        "people": [p.pk for p in people],
        "tokens": tokens,
        "company_id": company.pk,
        "bookings": count,
        "seed_max_id": max_id,
        "first_room": first_room,
        "seed_seconds": round(seconds, 1),
    }


# --- Slots: every measured create gets a distinct, valid, free slot ----------------------------------------------


def local_tz():
    import zoneinfo

    return zoneinfo.ZoneInfo("Europe/Copenhagen")


def slot(index: int, *, first_room: int, day_offset: int) -> tuple[int, datetime, datetime]:
    """The index-th free half-hour: rooms first, then 07:00-19:00 local, then days, from ``day_offset`` days ahead."""
    room = first_room + index % ROOMS
    rest = index // ROOMS
    day = datetime.now(local_tz()).date() + timedelta(days=day_offset + rest // 24)
    start = datetime.combine(day, datetime.min.time(), tzinfo=local_tz()).replace(hour=7) + timedelta(
        minutes=30 * (rest % 24)
    )
    return room, start, start + timedelta(minutes=30)


# --- Raw limits ---------------------------------------------------------------------------------------------------

RAW_INSERT = """
    INSERT INTO bookings_booking (uid, site_id, room_id, organiser_id, company_id, title, attendees, start, "end",
        hold_end, status, source, is_moved, override_reason, sequence, created_at, updated_at, checked_in_via)
    VALUES (gen_random_uuid(), %s, %s, %s, %s, '', '[]'::jsonb, %s, %s, %s, 'confirmed', 'api', false, '', 0,
            now(), now(), '')
"""


def raw_inserts(seeded: dict, *, connections: int, count: int, max_seconds: float, day_offset: int) -> dict:
    """Plain psycopg, one autocommitted INSERT per booking (as one API request commits one), into the same table."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    deadline = time.perf_counter() + max_seconds
    barrier = threading.Barrier(connections + 1)

    def run(worker: int) -> None:
        with psycopg.connect(ENV["DATABASE_URL"], autocommit=True) as conn:
            barrier.wait()
            for n in range(worker, count, connections):
                if time.perf_counter() > deadline:
                    break
                room, start, end = slot(n, first_room=seeded["first_room"], day_offset=day_offset)
                began = time.perf_counter()
                conn.execute(
                    RAW_INSERT, (seeded["site_id"], room, seeded["people"][0], seeded["company_id"], start, end, end)
                )
                latencies[worker].append(time.perf_counter() - began)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(connections)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return summary([x for worker in latencies for x in worker], time.perf_counter() - started)


def search_sql_alone(seeded: dict, windows: list[tuple[datetime, datetime]]) -> tuple[dict, str]:
    """The selector's own SQL (the page query the API runs), executed alone over the same windows."""
    import django

    django.setup()
    from django.db import connection

    from bookings import selectors
    from labs.models import Site

    site = Site.objects.get(pk=seeded["site_id"])
    latencies = []
    plan = ""
    with connection.cursor() as cursor:
        for index, (start, end) in enumerate(windows):
            queryset = selectors.room_search(site=site, free_from=start, free_to=end).order_by("floor__level", "name")
            sql, params = queryset[:50].query.sql_with_params()
            if index == 0:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            began = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            latencies.append(time.perf_counter() - began)
    connection.close()
    return summary(latencies, sum(latencies)), plan


# --- HTTP ---------------------------------------------------------------------------------------------------------


def start_gunicorn() -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "labs.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=ENV,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/sites/")
            conn.getresponse().read()
            conn.close()
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


class Client:
    """One persistent keep-alive connection with one person's token."""

    def __init__(self, token: str):
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def http_load(seeded: dict, *, clients: int, count: int, max_seconds: float, make_request) -> tuple[dict, dict]:
    """``clients`` threads share ``count`` requests; ``make_request(n)`` gives (method, path, body)."""
    statuses: dict[int, int] = {}
    latencies: list[list[float]] = [[] for _ in range(clients)]
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds
    barrier = threading.Barrier(clients + 1)

    def run(worker: int) -> None:
        client = Client(seeded["tokens"][worker])
        client.request("GET", "/api/v1/me/")  # warm the connection
        barrier.wait()
        for n in range(worker, count, clients):
            if time.perf_counter() > deadline:
                break
            method, path, body = make_request(n)
            began = time.perf_counter()
            status, _ = client.request(method, path, body)
            latencies[worker].append(time.perf_counter() - began)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result = summary([x for worker in latencies for x in worker], time.perf_counter() - started)
    return result, statuses


def create_body(room: int, start: datetime, end: datetime) -> dict:
    return {"room": room, "start": start.isoformat(), "end": end.isoformat(), "title": "bench"}


def identical_race(seeded: dict, *, requests: int, day_offset: int) -> dict:
    """``requests`` clients post the same slot at the same moment."""
    room, start, end = slot(0, first_room=seeded["first_room"], day_offset=day_offset)
    body = create_body(room, start, end)
    barrier = threading.Barrier(requests)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(worker: int) -> None:
        client = Client(seeded["tokens"][worker])
        client.request("GET", "/api/v1/me/")
        barrier.wait()
        status, _ = client.request("POST", "/api/v1/bookings/", body)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return {
        "requests": requests,
        "201": statuses.count(201),
        "409": statuses.count(409),
        "5xx": sum(1 for s in statuses if s >= 500),
        "other": sorted(s for s in statuses if s not in {201, 409} and s < 500),
    }


def overlapping_rows(seeded: dict) -> int:
    """Holding bookings made during the benchmark that overlap any holding booking of the same room."""
    with psycopg.connect(ENV["DATABASE_URL"]) as conn:
        return conn.execute(
            """
            SELECT count(*) FROM bookings_booking a JOIN bookings_booking b
              ON a.room_id = b.room_id AND a.id <> b.id
             AND a.start < b.hold_end AND b.start < a.hold_end
             AND b.status IN ('confirmed', 'checked_in', 'completed')
             WHERE a.id > %s AND a.status IN ('confirmed', 'checked_in', 'completed')
            """,
            [seeded["seed_max_id"]],
        ).fetchone()[0]


def search_windows(count: int) -> list[tuple[datetime, datetime]]:
    """One-hour windows on the half hour between 60 days ago and 30 days ahead, where the seeded bookings are."""
    rng = random.Random(42)
    now = datetime.now(local_tz()).replace(minute=0, second=0, microsecond=0)
    windows = []
    for _ in range(count):
        start = now + timedelta(days=rng.randint(-60, 30), minutes=30 * rng.randint(-20, 20))
        windows.append((start, start + timedelta(hours=1)))
    return windows


# --- Main ---------------------------------------------------------------------------------------------------------


def main() -> dict:
    scale = 0.25 if QUICK else 1.0
    began = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews every figure
    log(f"Recreating database {DB_NAME} and migrating ...")
    recreate_database()
    migrate()
    log(f"Seeding {ROOMS} rooms and {ROOMS * BOOKINGS_PER_ROOM:,} bookings ...")
    seeded = seed()
    log(f"  {seeded['bookings']:,} bookings in {seeded['seed_seconds']} s")
    results: dict = {"seed": {k: seeded[k] for k in ("bookings", "seed_seconds")}, "rooms": ROOMS}

    log("Raw limit: psycopg INSERTs into the constrained table ...")
    results["raw_insert_1_conn"] = raw_inserts(
        seeded, connections=1, count=int(4000 * scale), max_seconds=15, day_offset=300
    )
    results["raw_insert_8_conn"] = raw_inserts(
        seeded, connections=8, count=int(16000 * scale), max_seconds=20, day_offset=320
    )
    windows = search_windows(int(400 * scale))
    log("Raw limit: the free-room search SQL alone ...")
    results["search_sql"], plan = search_sql_alone(seeded, windows)
    results["search_sql_plan"] = plan.splitlines()

    server = start_gunicorn()
    try:
        log("HTTP: booking create, 1 client ...")
        results["create_http_1_client"], results["create_http_1_client_statuses"] = http_load(
            seeded,
            clients=1,
            count=int(2000 * scale),
            max_seconds=20,
            make_request=lambda n: (
                "POST",
                "/api/v1/bookings/",
                create_body(*slot(n, first_room=seeded["first_room"], day_offset=40)),
            ),
        )
        log("HTTP: booking create, 8 clients ...")
        results["create_http_8_clients"], results["create_http_8_clients_statuses"] = http_load(
            seeded,
            clients=8,
            count=int(12000 * scale),
            max_seconds=30,
            make_request=lambda n: (
                "POST",
                "/api/v1/bookings/",
                create_body(*slot(n, first_room=seeded["first_room"], day_offset=80)),
            ),
        )
        log("HTTP: 50 identical requests at once ...")
        results["identical_race"] = identical_race(seeded, requests=50, day_offset=150)
        log("HTTP: the conflict path (every request answers 409), 8 clients ...")
        results["conflict_http_8_clients"], results["conflict_http_8_clients_statuses"] = http_load(
            seeded,
            clients=8,
            count=int(6000 * scale),
            max_seconds=20,
            make_request=lambda n: (
                "POST",
                "/api/v1/bookings/",
                create_body(*slot(n % 2000, first_room=seeded["first_room"], day_offset=40)),
            ),
        )
        log("HTTP: free-room search, 1 client and 8 clients ...")

        def search(n: int):
            start, end = windows[n % len(windows)]
            query = urlencode({"site": seeded["site_slug"], "free_from": start.isoformat(), "free_to": end.isoformat()})
            return "GET", f"/api/v1/rooms/?{query}", None

        results["search_api_1_client"], results["search_api_1_client_statuses"] = http_load(
            seeded, clients=1, count=int(400 * scale), max_seconds=20, make_request=search
        )
        results["search_api_8_clients"], results["search_api_8_clients_statuses"] = http_load(
            seeded, clients=8, count=int(1600 * scale), max_seconds=20, make_request=search
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["overlapping_rows_after_benchmark"] = overlapping_rows(seeded)

    create8, raw8 = results["create_http_8_clients"], results["raw_insert_8_conn"]
    results["ratios"] = {
        "create_8_clients_vs_raw_8_conn": round(create8["per_s"] / raw8["per_s"], 3),
        "create_1_client_vs_raw_1_conn": round(
            results["create_http_1_client"]["per_s"] / results["raw_insert_1_conn"]["per_s"], 3
        ),
        "search_api_p50_vs_sql_p50": round(
            results["search_api_1_client"]["p50_ms"] / results["search_sql"]["p50_ms"], 2
        ),
    }
    results["targets"] = TARGETS
    results["meets"] = {
        "create_8_clients_p99_ms": create8["p99_ms"] <= TARGETS["create_8_clients_p99_ms"],
        "create_vs_raw_ratio": results["ratios"]["create_8_clients_vs_raw_8_conn"]
        >= TARGETS["create_vs_raw_ratio_min"],
        "identical_race": results["identical_race"]["201"] == 1
        and results["identical_race"]["409"] == results["identical_race"]["requests"] - 1
        and results["identical_race"]["5xx"] == 0,
        "no_overlaps": results["overlapping_rows_after_benchmark"] == 0,
        "search_api_p50_ms": results["search_api_1_client"]["p50_ms"] <= TARGETS["search_api_p50_ms"],
        "search_api_p99_ms": results["search_api_1_client"]["p99_ms"] <= TARGETS["search_api_p99_ms"],
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": QUICK,
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    return results


def report(results: dict) -> None:
    def row(name: str, figures: dict, extra: str = "") -> None:
        rate, p50, p99 = figures["per_s"], figures["p50_ms"], figures["p99_ms"]
        log(f"  {name:<34} {rate:>9} /s   p50 {p50:>7} ms   p99 {p99:>7} ms  {extra}")

    log("")
    log(f"Bookings benchmark ({results['seed']['bookings']:,} bookings, {results['rooms']} rooms)")
    row("raw INSERT, 1 connection", results["raw_insert_1_conn"])
    row("raw INSERT, 8 connections", results["raw_insert_8_conn"])
    row("HTTP create, 1 client", results["create_http_1_client"], str(results["create_http_1_client_statuses"]))
    row("HTTP create, 8 clients", results["create_http_8_clients"], str(results["create_http_8_clients_statuses"]))
    row(
        "HTTP conflict (409), 8 clients",
        results["conflict_http_8_clients"],
        str(results["conflict_http_8_clients_statuses"]),
    )
    row("search SQL alone", results["search_sql"])
    row("search API, 1 client", results["search_api_1_client"], str(results["search_api_1_client_statuses"]))
    row("search API, 8 clients", results["search_api_8_clients"], str(results["search_api_8_clients_statuses"]))
    log(f"  50 identical requests at once: {results['identical_race']}")
    log(f"  overlapping rows after the run: {results['overlapping_rows_after_benchmark']}")
    log(f"  ratios: {results['ratios']}")
    log(f"  targets met: {results['meets']}")
    log(f"  machine: {results['machine']}")
    log("  search plan: " + " | ".join(line.strip() for line in results["search_sql_plan"][:8]))


if __name__ == "__main__":
    try:
        figures = main()
    finally:
        if not KEEP:
            drop_database()
    out = ROOT / "bench" / "results" / "bookings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    report(figures)
    log(f"\nWrote {out.relative_to(ROOT)} in {figures['total_seconds']} s")
