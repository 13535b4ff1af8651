"""Soak: bookings over HTTP, device messages and badge scans over MQTT, together, for SOAK_SECONDS (default 600).

Rates (each paced, bounded, on loopback): 50 booking creates/s (8 client threads, token auth, gunicorn 2 workers),
1,000 device messages/s (acks of 1,000 devices' commands, through one ``manage.py mqtt_bridge``), 20 badge scans/s
(a reader on MQTT, its decision back through the bridge). Prints for each path its p99 (bookings: the HTTP round
trip; device messages: publish -> recorded by the bridge, sampled from the commands; scans: scan -> decision),
its errors, and the resident memory (RSS) of every process at start and end, with a series every
``SOAK_RSS_EVERY_S`` (default 60) and each process's growth over the second half of the run: warm-up (imports,
caches, connection pools) happens early; a leak keeps growing, so flat means under 5 % growth in the second half.

Starts its own Mosquitto (project configuration, fresh backend secret); database DATABASE_URL, else PostgreSQL
``labs_soak_bench`` at 127.0.0.1. Usage: ``SOAK_SECONDS=60 .venv/bin/python bench/soak.py`` (``make bench-soak``).
Writes bench/results/soak.json.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "soak.json"
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
BOOKINGS_PER_S, DEVICE_MSGS_PER_S, SCANS_PER_S = 50, 1000, 20
DEVICES = 1000
RSS_EVERY_S = float(os.environ.get("SOAK_RSS_EVERY_S", "60"))
FLAT_SECOND_HALF = 0.05  # at most 5 % growth from the middle of the run to its end
ROOMS = 400


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


access = _load("access_bench", "access.py")


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def tree(pid: int) -> list[int]:
    """The process and its children (gunicorn's workers)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        return [pid, *[c.pid for c in parent.children(recursive=True)]]
    except psutil.Error:
        return [pid]


def paced(rate: float, seconds: float, stop: threading.Event, work) -> None:
    """Call ``work(i)`` ``rate`` times a second for ``seconds`` (in 10 ms slices), unless ``stop`` is set."""
    started = time.monotonic()
    done = 0
    while not stop.is_set():
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            return
        due = int(elapsed * rate)
        while done < due:
            work(done)
            done += 1
        time.sleep(0.01)


def seed(people: int) -> dict:
    from rest_framework.authtoken.models import Token

    from bookings.models import BookingPolicy, Room
    from comfort import services as comfort_services
    from comfort.models import Device
    from labs import services as labs_services
    from labs.choices import Role
    from labs.models import Company, Floor, OutboxMessage, Site

    data = access.seed(people)  # site cph, a door, readers, people with digital badges
    site = Site.objects.get(slug="cph")
    floor = Floor.objects.create(site=site, level=1, name="1")
    BookingPolicy.objects.update_or_create(site=site, defaults={"max_days_ahead": 400})
    Room.objects.bulk_create([Room(site=site, floor=floor, name=f"Room {n:03d}", capacity=4) for n in range(ROOMS)])
    company = Company.objects.filter(site=site).first()
    bookers = [
        labs_services.person_create(
            username=f"soak{i}", role=Role.EMPLOYEE, site=site, company=company, email=f"soak{i}@example.test"
        )
        for i in range(8)
    ]
    data["tokens"] = [Token.objects.create(user=p.user).key for p in bookers]
    data["rooms"] = list(Room.objects.filter(site=site).order_by("pk").values_list("pk", flat=True))
    comfort_bench = _load("comfort_bench", "comfort.py")
    devices = comfort_bench.seed_fanout_site(DEVICES)
    commands = comfort_services.devices_desired_set_many(
        devices=devices, desired={"height_mm": 1000}, reason={"type": "soak"}
    )
    from django.utils import timezone

    OutboxMessage.objects.update(sent_at=timezone.now())
    by_pk = {d.pk: d for d in Device.objects.filter(pk__in=[d.pk for d in devices]).select_related("site")}
    data["acks"] = [(by_pk[c.device_id].topic("ack"), str(c.cmd_id), c.version, c.pk) for c in commands]
    return data


def slot(index: int, rooms: list[int]) -> tuple[int, datetime, datetime]:
    """The index-th free 30-minute slot: rooms first, then 07:00-19:00 local, then days (from tomorrow)."""
    import zoneinfo

    tz = zoneinfo.ZoneInfo("Europe/Copenhagen")
    room = rooms[index % len(rooms)]
    rest = index // len(rooms)
    day = datetime.now(tz).date() + timedelta(days=1 + rest // 24)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz).replace(hour=7) + timedelta(minutes=30 * (rest % 24))
    return room, start, start + timedelta(minutes=30)


def main() -> None:
    procs = access.Processes()
    os.environ.setdefault("MQTT_BACKEND_PASSWORD", secrets.token_urlsafe(24))
    results: dict = {"seconds": SECONDS, "rates": [BOOKINGS_PER_S, DEVICE_MSGS_PER_S, SCANS_PER_S]}
    try:
        database = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/labs_soak_bench"
        if not os.environ.get("DATABASE_URL"):
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
                c.execute("DROP DATABASE IF EXISTS labs_soak_bench WITH (FORCE)")
                c.execute("CREATE DATABASE labs_soak_bench")
        port = access.start_mosquitto(procs)
        broker = f"mqtt://backend:{os.environ['MQTT_BACKEND_PASSWORD']}@127.0.0.1:{port}"
        var = Path(tempfile.mkdtemp(prefix="soak-var-"))
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "labs.settings",
            "DATABASE_URL": database,
            "MQTT_URL": broker,
            "LABS_VAR_DIR": str(var),
            "LOG_LEVEL": "WARNING",
            "DJANGO_DEBUG": "false",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "MQTT_CLIENT_PREFIX": "soak",
            "MQTT_OUTBOX_NUDGE": "false",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        print(f"soak: {SECONDS:.0f} s; seeding ...", flush=True)
        data = seed(int(SCANS_PER_S * SECONDS) + 200)
        reader_password = access.reader_password(data["mqtt_reader"], "cph", broker)
        connection.close()
        web_port = access.start_gunicorn(procs, "labs.wsgi", env)
        bridge = procs.start(
            [sys.executable, str(ROOT / "manage.py"), "mqtt_bridge"],
            env={**env, "MQTT_BRIDGE_ID": "soak-bridge-1"},
            stdout=(var / "bridge.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "mqtt_bridge: subscribed" not in (var / "bridge.log").read_text():
            if time.monotonic() > deadline:
                raise SystemExit("the bridge did not subscribe")
            time.sleep(0.1)
        pids = {
            "gunicorn (master + workers)": procs.children[1].pid,
            "mosquitto": procs.children[0].pid,
            "bridge": bridge.pid,
            "soak driver": os.getpid(),
        }
        memory = {name: {"start_mb": sum(filter(None, (rss_mb(p) for p in tree(pid))))} for name, pid in pids.items()}

        stop = threading.Event()
        booking_ms: list[float] = []
        booking_errors: list[int] = []
        scan_ms: list[float] = []
        scan_errors = [0]
        device_errors = [0]
        lock = threading.Lock()

        # bookings: 8 client threads share the paced sequence
        counter = iter(range(10**9))
        todo: list[int] = []
        cv = threading.Condition()

        def booking_client(token: str) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
            headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
            while True:
                with cv:
                    while not todo and not stop.is_set():
                        cv.wait(0.1)
                    if not todo:
                        return
                    index = todo.pop(0)
                room, start, end = slot(index, data["rooms"])
                body = json.dumps({"room": room, "start": start.isoformat(), "end": end.isoformat(), "title": "s"})
                began = time.perf_counter()
                try:
                    conn.request("POST", "/api/v1/bookings/", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
                    status = 0
                with lock:
                    booking_ms.append((time.perf_counter() - began) * 1000)
                    if status != 201:
                        booking_errors.append(status)

        def booking_due(_i: int) -> None:
            with cv:
                todo.append(next(counter))
                cv.notify()

        # device messages: acks 202 (in progress) of the 1,000 devices' commands; "ad" carries the publish time
        from labs import mqtt

        publisher = mqtt.create_client(role="soak-devices", url=broker)
        assert mqtt.connect(publisher, url=broker)

        def device_due(i: int) -> None:
            topic, cmd_id, version, _pk = data["acks"][i % DEVICES]
            payload = {"cmd_id": cmd_id, "av": version, "ac": 202, "ad": f"{time.time():.6f}", "progress": 0.5}
            if publisher.publish(topic, json.dumps(payload), qos=1).rc != 0:
                device_errors[0] += 1

        device_ms: list[float] = []

        def sample_devices() -> None:  # each command's last ack: (recorded by the bridge) - (published)
            import psycopg
            from django.conf import settings as s

            grace = s.COMFORT_PROGRESS_GRACE.total_seconds()
            pks = [a[3] for a in data["acks"]]
            with psycopg.connect(database.replace("postgres://", "postgresql://")) as conn:
                seen: dict[int, str] = {}
                while not stop.is_set():
                    rows = conn.execute(
                        "SELECT id, result_detail, extract(epoch FROM deadline_at) FROM comfort_command "
                        "WHERE id = ANY(%s) AND result_detail <> ''",
                        [pks],
                    ).fetchall()
                    conn.commit()
                    for pk, sent, recorded in rows:
                        if seen.get(pk) != sent:
                            seen[pk] = sent
                            device_ms.append((float(recorded) - grace - float(sent)) * 1000)
                    time.sleep(0.5)

        # scans: one reader on MQTT, paced in its own event loop
        def scans() -> None:
            from badges.simulator import ReaderClient

            async def run() -> None:
                client = ReaderClient(data["mqtt_reader"], "cph", url=broker, password=reader_password)
                await client.connect()
                badges = iter(data["badges"])
                started = time.monotonic()
                done = 0
                pending = set()

                async def one(badge) -> None:
                    decision = await client.scan("qr", access.code_now(badge))
                    with lock:
                        if decision is None or not decision.get("allow"):
                            scan_errors[0] += 1
                        else:
                            scan_ms.append(decision["latency_ms"])

                while not stop.is_set() and time.monotonic() - started < SECONDS:
                    due = int((time.monotonic() - started) * SCANS_PER_S)
                    while done < due:
                        pending.add(asyncio.ensure_future(one(next(badges))))
                        done += 1
                    await asyncio.sleep(0.01)
                if pending:
                    await asyncio.wait(pending, timeout=10)
                await client.close()

            asyncio.run(run())

        series: list[dict] = []

        def sample_memory() -> None:
            began_at = time.monotonic()
            while not stop.wait(RSS_EVERY_S):
                at = round(time.monotonic() - began_at)
                series.append(
                    {"t_s": at}
                    | {n: round(sum(filter(None, (rss_mb(p) for p in tree(pid)))), 1) for n, pid in pids.items()}
                )

        threads = [threading.Thread(target=booking_client, args=(t,), daemon=True) for t in data["tokens"]]
        threads += [
            threading.Thread(target=paced, args=(BOOKINGS_PER_S, SECONDS, stop, booking_due), daemon=True),
            threading.Thread(target=paced, args=(DEVICE_MSGS_PER_S, SECONDS, stop, device_due), daemon=True),
            threading.Thread(target=sample_devices, daemon=True),
            threading.Thread(target=scans, daemon=True),
            threading.Thread(target=sample_memory, daemon=True),
        ]
        print(f"soak: running {SECONDS:.0f} s (bookings 50/s, device messages 1000/s, scans 20/s) ...", flush=True)
        began = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(SECONDS)
        time.sleep(3)  # the last requests and messages
        stop.set()
        with cv:
            cv.notify_all()
        for thread in threads:
            thread.join(15)
        wall = time.monotonic() - began
        for name, pid in pids.items():
            memory[name]["end_mb"] = sum(filter(None, (rss_mb(p) for p in tree(pid))))
        publisher.disconnect()
        publisher.loop_stop()

        def path(values: list[float], errors: int, sent: int) -> dict:
            return {
                "sent": sent,
                "measured": len(values),
                "p50_ms": round(percentile(values, 50), 2) if values else None,
                "p99_ms": round(percentile(values, 99), 2) if values else None,
                "errors": errors,
            }

        results["bookings"] = path(booking_ms, len(booking_errors), len(booking_ms))
        results["bookings"]["error_statuses"] = sorted(set(booking_errors))[:10]
        results["device_messages"] = path(device_ms, device_errors[0], int(DEVICE_MSGS_PER_S * SECONDS))
        results["scans"] = path(scan_ms, scan_errors[0], int(SCANS_PER_S * SECONDS))
        halfway = [row for row in series if row["t_s"] >= SECONDS / 2]
        for name, figures in memory.items():
            middle = halfway[0][name] if halfway else figures["start_mb"]
            figures["middle_mb"] = middle
            figures["second_half_growth"] = round(figures["end_mb"] / middle - 1, 3) if middle else None
            figures["flat"] = (
                figures["second_half_growth"] is not None and figures["second_half_growth"] < FLAT_SECOND_HALF
            )
        results["memory_mb"] = memory
        results["memory_series_mb"] = series
        results["wall_s"] = round(wall, 1)
        results["load_average"] = os.getloadavg()
        print(f"soak over {SECONDS:.0f} s (load average {os.getloadavg()[0]:.1f}):")
        for name in ("bookings", "device_messages", "scans"):
            r = results[name]
            print(
                f"  {name:16s} sent {r['sent']:7d}  measured {r['measured']:7d}  p50 {r['p50_ms']} ms  "
                f"p99 {r['p99_ms']} ms  errors {r['errors']}"
            )
        for name, figures in memory.items():
            print(
                f"  RSS {name:28s} start {figures['start_mb']:7.1f} MB   middle {figures['middle_mb']:7.1f} MB   "
                f"end {figures['end_mb']:7.1f} MB   second half {figures['second_half_growth']:+.1%}   "
                f"{'flat' if figures['flat'] else 'GROWING'}"
            )
        for name in memory:
            print(f"  RSS series {name}: " + " ".join(f"{row['t_s']}s:{row[name]}" for row in series))
    finally:
        procs.stop_all()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
