"""Comfort bench: check-in -> desired published -> simulated device acked, and a fan-out to 10,000 devices.

Each figure stands beside the raw limit measured in the same run on the same broker:

* raw: a paho QoS 1 ping-pong (publish -> a paho "device" -> reply) on the bench's Mosquitto;
* check-in: ``workspace_check_in`` (booking + desired state + commands + outbox in one transaction), published by the
  committing process after commit, applied by a simulated desk (instant motion: motion time excluded), its ack seen on
  the broker; and the same command recorded ``applied`` by the bridge (a separate process);
* fan-out: ``devices_desired_set_many`` to 10,000 simulated desks (one gmqtt connection each, in one simulator
  process) until every ack is seen; beside it the same 10,000 commands published raw with paho to the same devices.
  Each is run ``--fan-out-runs`` times (3) and the medians are compared: one run of either moves by a quarter.

Starts its own Mosquitto from mosquitto.conf on a free port, the bridge and the simulators as subprocesses. Database:
DATABASE_URL if set, else PostgreSQL at 127.0.0.1 (database labs_comfort_bench) if reachable, else SQLite in /tmp.
Prints the figures and writes bench/results/comfort.json. Usage: ``.venv/bin/python bench/comfort.py [--devices N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "comfort.json"
TARGETS = {"checkin_p50_ms": 10.0, "checkin_p99_ms": 50.0, "fanout_all_acked_s": 5.0, "fanout_over_raw": 1.5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def prepare_mosquitto() -> tuple[int, Path]:
    """A free port and a data folder with mosquitto.conf and its dynamic-security file (the backend's account)."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="comfort-bench-mosquitto-"))
    conf = subprocess.run(
        ["bash", str(ROOT / "scripts" / "mosquitto-conf.sh"), str(port), str(data)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (data / "mosquitto.conf").write_text("\n".join(x for x in conf.splitlines() if not x.startswith("pid_file")))
    return port, data


def launch_mosquitto(port: int, data: Path) -> subprocess.Popen:
    process = subprocess.Popen(["mosquitto", "-c", str(data / "mosquitto.conf")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def start_mosquitto() -> tuple[subprocess.Popen, int, Path]:
    """Prepared and started at once (the other benches' broker)."""
    port, data = prepare_mosquitto()
    return launch_mosquitto(port, data), port, data


def choose_database() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2) as c:
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = 'labs_comfort_bench'").fetchone():
                c.execute("CREATE DATABASE labs_comfort_bench")
        return "postgres://postgres@127.0.0.1:5432/labs_comfort_bench"
    except Exception:  # noqa: BLE001 - no PostgreSQL here: SQLite
        path = Path(tempfile.gettempdir()) / "labs-comfort-bench.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"


def observe(url: str) -> None:
    """``--observe``: the observer's own process. A plain paho subscriber that prints, for every ack, the cmd_id, its
    code and the moment it arrived (``time.perf_counter``: CLOCK_MONOTONIC, the same clock in every process here), and
    every device status change. In its own process the moment is not held back by the GIL of the process that is
    checking people in (which after publishing the desk's command goes on with the zone's)."""
    import django

    django.setup()
    from labs import mqtt

    out = sys.stdout
    lock = threading.Lock()

    def on_message(client, userdata, message) -> None:
        now = time.perf_counter()
        payload = json.loads(message.payload)
        if message.topic.endswith("/status"):
            line = f"S {message.topic.split('/')[4]} {payload.get('status')}\n"
        else:
            line = f"A {payload.get('cmd_id')} {payload.get('ac')} {now!r}\n"
        with lock:
            out.write(line)
            out.flush()

    client = mqtt.create_client(role="bench-observer", url=url)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([("labs/v1/+/+/+/ack", 1), ("labs/v1/+/+/+/status", 1)])
    client.on_subscribe = lambda c, u, mid, codes, p: (out.write("READY\n"), out.flush())
    client.on_message = on_message
    assert mqtt.connect(client, url=url)
    sys.stdin.read()  # until the bench closes our stdin


class Observer:
    """Timestamps the first ack of every cmd_id and tracks which devices are online, from :func:`observe` running in
    its own process."""

    def __init__(self, url: str) -> None:
        self.first_ack: dict[str, float] = {}
        self.acked_200: dict[str, float] = {}
        self.online: set[str] = set()
        self.waiters: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--observe", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        if self.process.stdout.readline().strip() != "READY":
            raise SystemExit("the observer did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            kind, *rest = line.split()
            if kind == "S":
                device, status = rest
                (self.online.add if status == "online" else self.online.discard)(device)
                continue
            cmd_id, code, at = rest[0], rest[1], float(rest[2])
            with self.lock:
                self.first_ack.setdefault(cmd_id, at)
                if code == "200":
                    self.acked_200.setdefault(cmd_id, at)
                event = self.waiters.pop(cmd_id, None)
            if event:
                event.set()

    def waiter(self, cmd_id: str) -> threading.Event:
        event = threading.Event()
        with self.lock:
            if cmd_id in self.first_ack:
                event.set()
            else:
                self.waiters[cmd_id] = event
        return event

    def close(self) -> None:
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(10)


def raw_pingpong(url: str, n: int) -> list[float]:
    """paho -> broker -> paho "device" -> broker -> paho, QoS 1 both ways, TCP_NODELAY everywhere."""
    from labs import mqtt

    device = mqtt.create_client(role="bench-pong", url=url)
    device.on_connect = lambda c, u, f, rc, p: c.subscribe("labs/v1/bench/ping", 1)
    device.on_message = lambda c, u, m: c.publish("labs/v1/bench/pong", m.payload, qos=1)
    caller = mqtt.create_client(role="bench-ping", url=url)
    got = threading.Event()
    caller.on_connect = lambda c, u, f, rc, p: c.subscribe("labs/v1/bench/pong", 1)
    caller.on_message = lambda c, u, m: got.set()
    assert mqtt.connect(device, url=url) and mqtt.connect(caller, url=url)
    time.sleep(0.3)
    samples = []
    for i in range(n + 50):
        got.clear()
        started = time.perf_counter()
        caller.publish("labs/v1/bench/ping", str(i), qos=1)
        if not got.wait(5):
            raise SystemExit("raw ping-pong lost a message")
        if i >= 50:  # warm-up
            samples.append(time.perf_counter() - started)
    for client in (device, caller):
        client.disconnect()
        client.loop_stop()
    return samples


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


class CpuMeter:
    """CPU seconds (user + system) each process spent between ``start`` and ``stop``: who the two cores worked for
    during a run. PostgreSQL's backends are summed as one."""

    def __init__(self, **processes) -> None:
        import psutil

        self.processes = {name: psutil.Process(p.pid) for name, p in processes.items() if p is not None}
        self.processes["bench (publisher)"] = psutil.Process()

    def _read(self) -> dict[str, float]:
        import psutil

        times = {}
        for name, process in self.processes.items():
            cpu = process.cpu_times()
            times[name] = cpu.user + cpu.system
        times["postgresql"] = 0.0
        for process in psutil.process_iter(["name", "cpu_times"]):
            if process.info["name"] and process.info["name"].startswith("postgres") and process.info["cpu_times"]:
                times["postgresql"] += process.info["cpu_times"].user + process.info["cpu_times"].system
        return times

    def start(self) -> None:
        self.started = self._read()

    def stop(self) -> dict[str, float]:
        now = self._read()
        return {name: round(now[name] - self.started.get(name, 0.0), 2) for name in now}


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def analyze(connection) -> None:
    """Fresh statistics after the bulk seeding, as autovacuum would give them a moment later."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def seed_checkin_site(people: int):
    from decimal import Decimal

    from bookings.models import Desk
    from comfort.models import Device, Preference
    from labs import services as labs_services
    from labs.models import Company, Floor, Site, Zone

    site = Site.objects.create(slug="bench", name="Bench", timezone="Europe/Copenhagen")
    floor = Floor.objects.create(site=site, level=1, name="1")
    company = Company.objects.create(site=site, name="Bench Co", kind="business_member")
    desks = []
    zones = [Zone.objects.create(floor=floor, slug=f"z{z:02d}", name=f"Zone {z}") for z in range(max(1, people // 10))]
    for n in range(people):
        zone = zones[n % len(zones)]
        desks.append(Desk.objects.create(site=site, floor=floor, zone=zone, label=f"B{n:04d}"))
    devices = [
        Device(device_id=f"bench-desk-{d.label.lower()}", kind="desk", site=site, desk=d, zone=d.zone) for d in desks
    ]
    for zone in zones:
        devices += [
            Device(device_id=f"bench-hvac-{zone.slug}", kind="hvac", site=site, zone=zone),
            Device(device_id=f"bench-fan-{zone.slug}", kind="fan", site=site, zone=zone),
        ]
    Device.objects.bulk_create(devices)
    persons = []
    for n in range(people):
        person = labs_services.person_create(
            username=f"bench{n}", role="employee", site=site, company=company, first_name="B", last_name=str(n)
        )
        Preference.objects.create(
            person=person,
            desk_sit_height_mm=650 + (n * 7) % 500,
            desk_stand_height_mm=1200,
            temperature_c=Decimal(40 + n % 9) / 2,
            fan_speed_pct=(n * 13) % 100,
        )
        persons.append(person)
    return site, persons, desks, len(devices)


def seed_fanout_site(count: int):
    from bookings.models import Desk
    from comfort.models import Device
    from labs.models import Floor, Site, Zone

    site = Site.objects.create(slug="fan", name="Fan-out", timezone="Europe/Copenhagen")
    floor = Floor.objects.create(site=site, level=1, name="1")
    zone = Zone.objects.create(floor=floor, slug="all", name="All")
    Desk.objects.bulk_create(
        [Desk(site=site, floor=floor, zone=zone, label=f"F{n:05d}") for n in range(count)], batch_size=2000
    )
    desks = list(Desk.objects.filter(site=site).order_by("label"))
    Device.objects.bulk_create(
        [Device(device_id=f"fan-desk-{d.label.lower()}", kind="desk", site=site, desk=d, zone=zone) for d in desks],
        batch_size=2000,
    )
    return list(Device.objects.filter(site=site).select_related("site").order_by("device_id"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000, help="devices in the fan-out")
    parser.add_argument("--checkins", type=int, default=200)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument(
        "--fan-out-chunk", type=int, default=None, help="devices per committed chunk (default: comfort's FAN_OUT_CHUNK)"
    )
    parser.add_argument("--fan-out-runs", type=int, default=3, help="fan-outs and raw runs each (medians compared)")
    parser.add_argument("--profile", action="store_true", help="profile the check-ins with pyinstrument (slower)")
    parser.add_argument("--observe", metavar="URL", help=argparse.SUPPRESS)  # the observer's own process
    args = parser.parse_args()
    if args.observe:
        observe(args.observe)
        return

    # The project's Mosquitto refuses anonymous clients: a fresh backend secret; the check-in simulator issues its
    # devices' credentials through the backend (dynamic security) when it starts; the fan-out's thousands are issued
    # before the broker starts (written into its dynamic-security file: issuing them one by one is O(N^2) there).
    os.environ.setdefault("MQTT_BACKEND_PASSWORD", secrets.token_urlsafe(24))
    port, mosquitto_dir = prepare_mosquitto()
    url = f"mqtt://backend:{os.environ['MQTT_BACKEND_PASSWORD']}@127.0.0.1:{port}"
    database = choose_database()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labs.settings",
            "MQTT_URL": url,
            "MQTT_OUTBOX_NUDGE": "true",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": database,
            "MQTT_CLIENT_PREFIX": "labs-bench",
            "DJANGO_DEBUG": "false",  # as in production: DEBUG records every query
        }
    )
    if database.startswith("sqlite"):
        os.environ["SQLITE_PATH"] = database.removeprefix("sqlite:///")
        del os.environ["DATABASE_URL"]
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # This process checks people in and fans out, as a web or Celery worker would: it is set up as they are, its
    # startup objects frozen out of the collector's full collections (labs/runtime.py). What it loads from here on
    # (the seeded people and devices, the fan-out's device list) is collected as usual, as a task's would be.
    from labs.runtime import freeze_startup_objects

    freeze_startup_objects()
    from comfort.models import Device
    from labs.mqtt_credentials import mqtt_credentials_issue_offline

    site, persons, desks, device_count = seed_checkin_site(args.checkins)
    fanout_devices = seed_fanout_site(args.devices)
    # Every simulated device's credentials, issued before the broker starts (once the file holds 10,000 identities,
    # each one issued through the running broker costs a rewrite of the whole file).
    issued = mqtt_credentials_issue_offline(
        identities=[(d.device_id, d.site.slug, d.kind) for d in Device.objects.select_related("site")],
        dynsec_file=mosquitto_dir / "dynamic-security.json",
    )
    credentials_file = mosquitto_dir / "credentials.json"
    credentials_file.write_text(json.dumps({c.username: c.password for c in issued}))
    mosquitto = launch_mosquitto(port, mosquitto_dir)
    from comfort import services
    from comfort.choices import CommandState
    from comfort.models import Command, Device

    logs = Path(tempfile.mkdtemp(prefix="comfort-bench-logs-"))
    env = dict(os.environ)
    bridge = simulator = observer = None
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "database": connection.vendor, "broker": "mosquitto (mosquitto.conf)"},
        "targets": TARGETS,
    }
    try:
        print(f"broker {url}, database {connection.vendor}; logs in {logs}")
        # 1. the raw limit: paho ping-pong
        raw = raw_pingpong(url, args.pings)
        result["raw_pingpong"] = summary_ms(raw)
        print(
            f"raw paho QoS1 ping-pong:        p50 {result['raw_pingpong']['p50_ms']:.3f} ms   "
            f"p99 {result['raw_pingpong']['p99_ms']:.3f} ms  (n={len(raw)})"
        )

        # 2. check-in latency
        analyze(connection)
        observer = Observer(url)
        bridge = spawn(["mqtt_bridge"], env, logs / "bridge.log")
        simulator = spawn(
            ["simulate_devices", "--site", "bench", "--desk-speed", "0", "--telemetry", "0", "--no-extra"]
            + ["--credentials", str(credentials_file)],
            env,
            logs / "simulator-checkin.log",
        )
        wait_for(lambda: len(observer.online) >= device_count, 60, "the check-in devices online")
        wait_for(lambda: Device.objects.filter(site=site, online=True).count() >= device_count, 60, "bridge caught up")
        samples, zone_samples = [], []
        legs: dict[str, list[float]] = {"booking": [], "desk": [], "broker_device": []}
        marks: dict = {}
        # Marks along the way, by wrapping (not changing) the code: the occupancy handler starts once the booking
        # has committed; the desk's command is handed to the broker in outbox_publish (the nudge, after the desk's
        # own transaction commits).
        from bookings import events as booking_events
        from labs import outbox

        def noting(name, function):
            def noted(*args, **kwargs):
                marks.setdefault(name, time.perf_counter())
                return function(*args, **kwargs)

            return noted

        real_handlers, real_publish = list(booking_events._handlers), outbox.outbox_publish
        booking_events._handlers[:] = [noting("booking_committed", h) for h in real_handlers]
        outbox.outbox_publish = noting("published", real_publish)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
        for person, desk in zip(persons, desks, strict=True):
            known = set(observer.first_ack)
            marks.clear()
            started = time.perf_counter()
            # its own transactions: the booking's, then after its commit the desk's and zone's (bookings' event)
            outcome = services.workspace_check_in(person=person, desk=desk)
            waiters = {c.device.kind: observer.waiter(str(c.cmd_id)) for c in outcome.commands}
            if not waiters["desk"].wait(5):
                raise SystemExit("a desk command was never acked")
            # the desk's own command (the result lists the zone's too, in id order: an unchanged zone's is older)
            desk_cmd = next(c for c in outcome.commands if c.device.kind == "desk")
            acked = observer.first_ack[str(desk_cmd.cmd_id)]
            samples.append(acked - started)
            legs["booking"].append(marks["booking_committed"] - started)
            legs["desk"].append(marks["published"] - marks["booking_committed"])
            legs["broker_device"].append(acked - marks["published"])
            hvac_cmd = next((c for c in outcome.commands if c.device.kind == "hvac"), None)
            if hvac_cmd and str(hvac_cmd.cmd_id) not in known and waiters["hvac"].wait(5):
                zone_samples.append(observer.first_ack[str(hvac_cmd.cmd_id)] - started)
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        warm = slice(10, None)  # the first check-ins open connections and warm caches
        result["checkin_to_device_ack"] = summary_ms(samples[warm])
        result["checkin_breakdown"] = {
            "booking_until_committed": summary_ms(legs["booking"][warm]),
            "committed_to_desk_command_published": summary_ms(legs["desk"][warm]),
            "published_to_device_ack": summary_ms(legs["broker_device"][warm]),
        }
        booking_events._handlers[:] = real_handlers
        outbox.outbox_publish = real_publish
        result["checkin_to_zone_hvac_ack"] = summary_ms(zone_samples[warm]) if len(zone_samples) > 20 else None
        desk_cmds = Command.objects.filter(device__site=site, device__kind="desk")
        wait_for(lambda: desk_cmds.filter(state=CommandState.APPLIED).count() == len(persons), 60, "bridge records")
        recorded = [(c.applied_at - c.issued_at).total_seconds() for c in desk_cmds.order_by("id")][10:]
        result["checkin_to_applied_recorded_by_bridge"] = summary_ms(recorded)
        ratio = result["checkin_to_device_ack"]["p50_ms"] / result["raw_pingpong"]["p50_ms"]
        result["checkin_p50_over_raw_p50"] = round(ratio, 1)
        c = result["checkin_to_device_ack"]
        print(
            f"check-in -> device ack:          p50 {c['p50_ms']:.3f} ms   p99 {c['p99_ms']:.3f} ms  "
            f"(n={c['n']}; {ratio:.1f}x raw p50; target p50<=10, p99<=50)"
        )
        b = result["checkin_breakdown"]
        for key, label in (
            ("booking_until_committed", "the booking, until committed:"),
            ("committed_to_desk_command_published", "the desk's command, published:"),
            ("published_to_device_ack", "broker -> desk -> ack seen:"),
        ):
            print(f"  {label:31s}p50 {b[key]['p50_ms']:.3f} ms   p99 {b[key]['p99_ms']:.3f} ms")
        r = result["checkin_to_applied_recorded_by_bridge"]
        print(f"check-in -> applied in the DB:   p50 {r['p50_ms']:.3f} ms   p99 {r['p99_ms']:.3f} ms  (bridge process)")
        stop(simulator)
        simulator = None

        # 3. fan-out to N devices
        devices = fanout_devices
        analyze(connection)
        observer.online.clear()
        started_connect = time.perf_counter()
        simulator = spawn(
            ["simulate_devices", "--site", "fan", "--desk-speed", "0", "--telemetry", "0", "--no-extra"]
            + ["--credentials", str(credentials_file)],
            env,
            logs / "simulator-fanout.log",
        )
        wait_for(lambda: len(observer.online) >= len(devices), 180, f"{len(devices)} devices online", 0.2)
        result["fanout_devices_connected_s"] = round(time.perf_counter() - started_connect, 2)
        wait_for(
            lambda: Device.objects.filter(site__slug="fan", online=True).count() >= len(devices),
            300,
            "the bridge to record every device online",
            0.5,
        )
        print(f"{len(devices)} simulated devices connected in {result['fanout_devices_connected_s']} s")
        meter = CpuMeter(bridge=bridge, simulator=simulator, mosquitto=mosquitto, observer=observer.process)
        if args.fan_out_chunk:
            services.FAN_OUT_CHUNK = args.fan_out_chunk
        result["fanout_chunk"] = services.FAN_OUT_CHUNK
        fan_cmds = Command.objects.filter(device__site__slug="fan")

        def fan_out(run: int) -> dict:
            """One fan-out of a new version to every device, until every ack is seen; then until the bridge has
            recorded them all. Outside a transaction: committed chunk by chunk, each chunk's messages on their way
            as it commits."""
            desired = [{"height_mm": 650 + (n + run) % 600} for n in range(len(devices))]
            meter.start()
            started = time.perf_counter()
            commands = services.devices_desired_set_many(devices=devices, desired=desired, reason={"type": "fan_out"})
            returned = time.perf_counter()
            cmd_ids = [str(cmd.cmd_id) for cmd in commands]
            wait_for(lambda: all(i in observer.acked_200 for i in cmd_ids), 120, "every fan-out ack", 0.01)
            cpu = meter.stop()
            acked_at = sorted(observer.acked_200[i] - started for i in cmd_ids)
            figures = {
                "all_acked_s": round(acked_at[-1], 3),
                "half_acked_s": round(acked_at[len(acked_at) // 2], 3),
                "written_and_committed_s": round(returned - started, 3),
                "cpu_s_until_all_acked": cpu,
            }
            wait_for(
                lambda: (
                    fan_cmds.filter(pk__in=[c.pk for c in commands], state=CommandState.APPLIED).count()
                    == len(commands)
                ),
                600,
                "bridge records",
                0.2,
            )
            figures["all_recorded_applied_by_bridge_s"] = round(time.perf_counter() - started, 3)
            return figures

        # 3b. the same fan-out published raw with paho, to the same devices, on the same broker. With the bridge
        # paused (SIGSTOP): the limit of broker + simulated devices on this machine (the target's comparison). Once
        # more with the bridge running, recording the devices' acks and reports as it does during the fan-out: the
        # same processes on the same two cores.
        from labs import mqtt

        def raw_fan_out(version: int) -> tuple[float, dict]:
            raw_client = mqtt.create_client(role=f"bench-raw-{version}", url=url)
            assert mqtt.connect(raw_client, url=url)
            raw_ids = [str(uuid.uuid4()) for _ in devices]
            meter.start()
            started = time.perf_counter()
            infos = [
                raw_client.publish(
                    d.topic("desired"),
                    json.dumps({"v": version, "cmd_id": raw_ids[n], "desired": {"height_mm": 700 + n % 500}}),
                    qos=1,
                )
                for n, d in enumerate(devices)
            ]
            wait_for(lambda: all(i in observer.acked_200 for i in raw_ids), 120, "every raw ack", 0.01)
            raw_all = max(observer.acked_200[i] for i in raw_ids) - started
            cpu = meter.stop()
            assert all(info.rc == 0 for info in infos)
            raw_client.disconnect()
            raw_client.loop_stop()
            return raw_all, cpu

        def bridge_caught_up(version: int) -> None:
            wait_for(
                lambda: Device.objects.filter(site__slug="fan", reported_version=version).count() == len(devices),
                600,
                "the bridge to catch up",
                0.5,
            )

        # Each side is run ``--fan-out-runs`` times and the medians are compared: on this machine one run of either
        # moved by a quarter from run to run (raw 1.5-2.4 s within an hour). The fan-outs come first, as the raw
        # documents carry versions above theirs (a device answers an older version 409). Between runs the bridge's
        # five-second memory of devices seen lapses, so each fan-out costs it what the first does.
        fanouts = []
        for run in range(args.fan_out_runs):
            time.sleep(5.5)
            fanouts.append(fan_out(run))
        raws = []
        for run in range(args.fan_out_runs):
            bridge.send_signal(signal.SIGSTOP)
            raws.append(raw_fan_out(1000 + run))
            bridge.send_signal(signal.SIGCONT)
            bridge_caught_up(1000 + run)
        raw_bridged, cpu_raw_bridged = raw_fan_out(1000 + args.fan_out_runs)

        def median_run(runs: list, key) -> int:
            return sorted(range(len(runs)), key=lambda n: key(runs[n]))[len(runs) // 2]

        f_median = fanouts[median_run(fanouts, lambda f: f["all_acked_s"])]
        r_median = raws[median_run(raws, lambda r: r[0])]
        all_acked, raw_all = f_median["all_acked_s"], r_median[0]
        result["fanout"] = {
            "devices": len(devices),
            "runs": args.fan_out_runs,
            **f_median,
            "all_acked_s_runs": [f["all_acked_s"] for f in fanouts],
            "raw_paho_all_acked_s": round(raw_all, 3),
            "raw_paho_all_acked_s_runs": [round(r[0], 3) for r in raws],
            "cpu_s_raw": r_median[1],
            "over_raw": round(all_acked / raw_all, 2),
            "raw_paho_bridge_running_all_acked_s": round(raw_bridged, 3),
            "cpu_s_raw_bridge_running": cpu_raw_bridged,
            "over_raw_bridge_running": round(all_acked / raw_bridged, 2),
        }
        f = result["fanout"]
        print(
            f"fan-out to {f['devices']}: all acked in {f['all_acked_s']} s, the median of {f['runs']} runs "
            f"({', '.join(map(str, f['all_acked_s_runs']))}); raw paho {f['raw_paho_all_acked_s']} s, the median of "
            f"({', '.join(map(str, f['raw_paho_all_acked_s_runs']))}): {f['over_raw']}x; target <= 5 s and <= 1.5x"
        )
        print(
            f"  the median fan-out: every chunk written and committed by {f['written_and_committed_s']} s; half acked "
            f"by {f['half_acked_s']} s; all recorded applied by the bridge in {f['all_recorded_applied_by_bridge_s']} s"
        )
        print(
            f"  raw paho with the bridge running (recording the acks, as during the fan-out): "
            f"{f['raw_paho_bridge_running_all_acked_s']} s, fan-out {f['over_raw_bridge_running']}x that"
        )
        for label, key in (
            ("fan-out", "cpu_s_until_all_acked"),
            ("raw, bridge paused", "cpu_s_raw"),
            ("raw, bridge running", "cpu_s_raw_bridge_running"),
        ):
            print(f"  CPU s until all acked, {label + ':':21s}" + ", ".join(f"{k} {v}" for k, v in f[key].items()))
        result["verdict"] = {
            "checkin_p50": c["p50_ms"] <= TARGETS["checkin_p50_ms"],
            "checkin_p99": c["p99_ms"] <= TARGETS["checkin_p99_ms"],
            "fanout_all_acked": f["all_acked_s"] <= TARGETS["fanout_all_acked_s"],
            "fanout_over_raw": f["over_raw"] <= TARGETS["fanout_over_raw"],
        }
        print("verdict:", result["verdict"])
    finally:
        if observer:
            observer.close()
        stop(simulator)
        stop(bridge)
        mosquitto.terminate()
        mosquitto.wait(10)
        shutil.rmtree(mosquitto_dir, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
