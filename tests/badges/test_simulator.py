"""Simulated readers keep trying: started before the broker (as `make run` starts every process at once), they get
their decisions once it is up, and again after it restarts.

Against a private Mosquitto (the project's config, a free port) that the test starts late and restarts, with the real
bridge: marked ``mosquitto`` and ``postgres`` like the other live reader tests (committed audit rows).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from badges import selectors, simulator
from badges.simulator import ReaderClient, Scan, run_readers
from labs.mqtt_bridge import run_in_thread
from tests.badges.conftest import issue
from tests.comfort.conftest import Mosquitto, free_port, wait_until


@pytest.fixture
def late_mosquitto():
    """A Mosquitto that is not running yet: the test starts (and restarts) it."""
    if shutil.which("mosquitto") is None:
        pytest.skip("needs the mosquitto binary")
    data_dir = Path(tempfile.mkdtemp(prefix="badges-mosquitto-"))
    broker = Mosquitto(data_dir)
    yield broker
    broker.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


class ReadersThread:
    """``run_readers`` on its own thread and loop, scanning every ``interval_s``; lines collect in ``lines``."""

    def __init__(self, url: str, scans, interval_s: float = 0.5, **options) -> None:
        self.url, self.scans, self.interval_s, self.options = url, scans, interval_s, options
        self.lines: list[str] = []
        self.results: list[dict | None] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._main, name="readers", daemon=True)

    def _main(self) -> None:
        async def go():
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            self.started.set()
            self.results = await run_readers(
                site="cph", readers=["cph-main"], url=self.url, stop=self.stop_event, scans=self.scans,
                interval_s=self.interval_s, write=self.lines.append, **self.options,
            )  # fmt: skip

        asyncio.run(go())

    def start(self) -> ReadersThread:
        self.thread.start()
        assert self.started.wait(5)
        return self

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)

    def decisions(self) -> list[str]:
        return [line for line in self.lines if line.startswith("[reader cph-main]")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.mosquitto
@pytest.mark.postgres
def test_readers_started_before_the_broker_get_decisions_once_it_is_up_and_after_a_restart(
    late_mosquitto, staff, member, main_reader
):
    badge = issue(staff, member)

    def scans():
        return [Scan("qr", selectors.badge_current_code(badge=badge), "member's phone")]

    readers = ReadersThread(late_mosquitto.url, scans).start()
    bridge = thread = None
    try:
        time.sleep(1.5)  # the readers try, and find no broker
        assert readers.thread.is_alive() and readers.decisions() == []
        late_mosquitto.start()
        bridge, thread = run_in_thread(url=late_mosquitto.url, poll_s=0.02)
        wait_until(bridge.subscribed.is_set, message="the bridge to subscribe")
        wait_until(lambda: any("ALLOW ok" in line for line in readers.decisions()), timeout=20, message="a decision")
        assert any("connected" in line for line in readers.lines)

        late_mosquitto.restart(down_for=1.0)
        seen = len(readers.decisions())
        wait_until(
            lambda: any("ALLOW ok" in line for line in readers.decisions()[seen:]),
            timeout=30,
            message="a decision after the broker restarted",
        )
        assert readers.thread.is_alive()
    finally:
        readers.stop()
        if bridge is not None:
            bridge.stop()
            thread.join(10)
    assert not readers.thread.is_alive()


@pytest.mark.django_db(transaction=True)
@pytest.mark.mosquitto
@pytest.mark.postgres
def test_readers_that_start_before_the_bridge_wait_for_it_instead_of_reporting_lost_scans(
    late_mosquitto, staff, member, main_reader
):
    """`make run` starts the readers, the broker and the bridge at once: a scan published before the bridge has
    subscribed reaches no one. Until the backend first answers, the readers say once that they wait and present the
    round again; the first decision they print is a real one, not "no decision within 5 s"."""
    badge = issue(staff, member)

    def scans():
        return [Scan("qr", selectors.badge_current_code(badge=badge), "member's phone")]

    late_mosquitto.start()
    readers = ReadersThread(
        late_mosquitto.url, scans, decision_timeout_s=0.5, startup_wait_s=simulator.STARTUP_WAIT_S
    ).start()
    bridge = thread = None
    try:
        wait_until(lambda: any("no decision yet" in line for line in readers.lines), timeout=20, message="a wait")
        time.sleep(1.2)  # more rounds without a bridge: still waiting, said once
        assert readers.decisions() == []
        bridge, thread = run_in_thread(url=late_mosquitto.url, poll_s=0.02)
        wait_until(lambda: readers.decisions(), timeout=20, message="a decision")
        assert "ALLOW ok" in readers.decisions()[0]
        assert sum("no decision yet" in line for line in readers.lines) == 1
        assert not any("no decision within" in line for line in readers.lines)
    finally:
        readers.stop()
        if bridge is not None:
            bridge.stop()
            thread.join(10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.mosquitto
@pytest.mark.postgres
def test_given_scans_report_a_missing_decision_at_once_without_waiting_for_a_bridge(late_mosquitto, main_reader):
    """Only the demo waits for the bridge's start: `simulate_readers --card ...` reports the lost scan after one
    decision timeout (and the command exits 1), as its help says."""
    late_mosquitto.start()
    lines: list[str] = []

    async def once():
        return await run_readers(
            site="cph", readers=["cph-main"], url=late_mosquitto.url, stop=asyncio.Event(),
            scans=[Scan("card", "DEADBEEF", "a card")], rounds=1, write=lines.append, decision_timeout_s=0.5,
        )  # fmt: skip

    started = time.monotonic()
    results = concurrent.futures.ThreadPoolExecutor(1).submit(asyncio.run, once()).result(timeout=30)
    assert results == [None]
    assert time.monotonic() - started < 10
    assert any("no decision within 0.5 s" in line for line in lines)
    assert not any("no decision yet" in line for line in lines)


def test_a_reader_stops_waiting_for_a_broker_when_told_to():
    """Nothing listens: connect_retrying gives up on ``stop`` or at its deadline, leaving nothing running."""

    async def go():
        reader = ReaderClient("cph-main", "cph", url=f"mqtt://127.0.0.1:{free_port()}")
        stop = asyncio.Event()
        started = time.monotonic()
        assert await reader.connect_retrying(stop, deadline_s=1.0, first_delay_s=0.1) is False
        waited = time.monotonic() - started
        asyncio.get_running_loop().call_later(0.3, stop.set)
        assert await reader.connect_retrying(stop, first_delay_s=0.1) is False
        await reader.close()
        return waited

    # On its own thread: Playwright's sync API (the browser tests) may have left an event loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, go()).result(30) < 3
