"""Over a real broker: simulated reader -> Mosquitto -> bridge -> handle_scan -> decision -> the reader.

Marked ``mosquitto`` (the project's Mosquitto of the run, e.g. CI's MQTT_URL) and ``postgres``: the bridge's thread
needs committed rows (a transactional test), and only PostgreSQL's test flush (TRUNCATE) empties the append-only audit
table between tests.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from badges import selectors, services
from badges.choices import BadgeKind
from badges.models import AccessDecision
from badges.simulator import ReaderClient, Scan, run_readers
from labs.mqtt_bridge import run_in_thread
from tests.badges.conftest import issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mosquitto, pytest.mark.postgres]


@pytest.fixture
def broker():
    from tests.services import project_mosquitto_url

    return project_mosquitto_url()


@pytest.fixture
def bridge(broker):
    bridge, thread = run_in_thread(url=broker, poll_s=0.02)
    deadline = time.monotonic() + 10
    while not bridge.subscribed.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bridge.subscribed.is_set(), "the bridge did not subscribe"
    yield bridge
    bridge.stop()
    thread.join(10)


def test_a_simulated_reader_gets_allow_then_replayed_then_revoked(broker, bridge, staff, member, main_reader):
    badge = issue(staff, member)
    code = selectors.badge_current_code(badge=badge)
    stop = asyncio.Event()
    results = asyncio.run(
        run_readers(
            site="cph", readers=["cph-main"], url=broker, stop=stop, rounds=1, write=lambda line: None,
            scans=[Scan("qr", code, "phone"), Scan("qr", code, "replay"), Scan("card", "DEADBEEF", "unknown card")],
        )
    )  # fmt: skip
    assert [(r["allow"], r["reason"]) for r in results] == [(True, "ok"), (False, "replayed"), (False, "unknown")]
    assert all(r["ttl_s"] == 5 and r["latency_ms"] < 1000 for r in results)
    services.badge_revoke(actor=staff, badge=badge)

    async def once():
        reader = ReaderClient("cph-main", "cph", url=broker, client_id="cph-main-test")
        await reader.connect()
        try:
            return await reader.scan("qr", selectors.badge_current_code(badge=badge) or code)
        finally:
            await reader.close()

    assert asyncio.run(once())["reason"] in {"revoked", "replayed"}
    assert AccessDecision.objects.filter(channel="mqtt").count() == 4


def test_concurrent_scans_of_one_code_open_the_door_once(staff, member, main_reader):
    from badges.choices import Channel, CredentialType

    badge = services._new_badge(kind=BadgeKind.DIGITAL, person=member)
    code = selectors.badge_current_code(badge=badge)
    reader = selectors.reader_for_topic(site_slug="cph", reader_slug="cph-main")
    barrier = threading.Barrier(8)
    results = []

    def scan():
        from django.db import connection

        barrier.wait()
        try:
            results.append(
                services.access_decide(
                    reader=reader, reader_ref="cph-main", credential_type=CredentialType.QR, value=code,
                    channel=Channel.HTTP,
                ).reason
            )  # fmt: skip
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] + ["replayed"] * 7


def test_the_simulate_readers_command_prints_the_decisions(broker, bridge, staff, member, main_reader):
    from io import StringIO

    from django.core.management import call_command

    issue(staff, member)
    out = StringIO()
    call_command(
        "simulate_readers", "--site", "cph", "--person", "member", "--card", "DEADBEEF", "--url", broker, stdout=out
    )
    lines = [line for line in out.getvalue().splitlines() if line.startswith("[reader cph-main]")]
    assert len(lines) == 2
    assert "ALLOW ok" in lines[1] and "member's phone" in lines[1]
    assert "deny  unknown" in lines[0] and "DEADBEEF" in lines[0]


def test_simulate_devices_runs_the_badge_readers():
    from labs import simulators

    assert simulators.registered()["badge readers"].__name__ == "run_site_readers"
