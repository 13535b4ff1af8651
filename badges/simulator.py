"""Simulated badge readers: scan credentials over MQTT (contract v1) and show the backend's decision.

* :class:`ReaderClient` is one reader: its own gmqtt connection whose client id is the reader's id (its MQTT
  identity; in production also its username, which the broker's ACL ties to its own ``scan`` and ``decision``
  topics), subscribed to its own ``decision`` topic. ``await reader.scan("qr", value)`` publishes a scan and returns
  the decision for that ``scan_id`` (or None after the timeout). asyncio sets TCP_NODELAY on its TCP sockets.
  Like the comfort device simulators, a reader keeps trying: :meth:`ReaderClient.connect_retrying` waits for a broker
  that is not up yet (``make run`` starts every process at once) with a growing delay, and once connected gmqtt
  reconnects by itself after a broker restart, subscribing again on every connect.
* :func:`run_site_readers` is the coroutine ``manage.py simulate_devices`` runs beside the comfort devices (registered
  with labs.simulators from BadgesConfig.ready()); ``manage.py simulate_readers`` runs the same standalone.
* :func:`demo_scans` is what a demo round presents: the member's phone (a fresh code, then the same code again, which
  is refused as a replay), the demo visitor's phone (the first allowed scan checks the visitor in and emails the host),
  a registered card and an unknown card. Codes are read from the database, as a phone showing the QR would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labs import topics

logger = logging.getLogger(__name__)

DECISION_TIMEOUT_S = 5.0
STARTUP_WAIT_S = 60.0  # the demo: until the backend first answers, a scan without a decision is presented again
DEMO_INTERVAL_S = 30.0  # one code step: every demo round presents fresh codes (a code opens a reader once per step)
CONNECT_RETRY_FIRST_S = 0.5  # the first wait for a broker that is not up, doubling up to ...
CONNECT_RETRY_MAX_S = 5.0
DEMO_UNKNOWN_CARD = "DE:AD:BE:EF"


@dataclass(frozen=True)
class Scan:
    """A credential to present: ``type`` qr or card, its ``value``, and a label for the output."""

    type: str
    value: str
    label: str


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class ReaderClient:
    """One simulated reader on its own MQTT connection."""

    def __init__(
        self,
        reader_id: str,
        site: str,
        *,
        url: str | None = None,
        client_id: str | None = None,
        leaves: tuple[str, str] = ("scan", "decision"),
        password: str | None = None,
    ) -> None:
        self.reader_id = reader_id
        self.site = site
        self.url = url
        self.client_id = client_id or reader_id
        self.password = password  # its MQTT password (username = client id = reader slug), issued by the backend
        self.leaves = leaves  # other leaves let a bench measure a raw echo the backend does not subscribe to
        self.client = None
        self.counter = itertools.count(1)
        self.pending: dict[str, asyncio.Future] = {}
        self.subscribed = asyncio.Event()

    @property
    def scan_topic(self) -> str:
        return topics.topic(self.site, "reader", self.reader_id, self.leaves[0])

    @property
    def decision_topic(self) -> str:
        return topics.topic(self.site, "reader", self.reader_id, self.leaves[1])

    def _on_connect(self, client, flags, rc, properties) -> None:
        # On every (re)connect: after a broker restart without persistence the subscription is gone.
        client.subscribe(self.decision_topic, qos=1)

    def _on_subscribe(self, client, mid, qos, properties) -> None:
        self.subscribed.set()

    def _on_message(self, client, topic, payload, qos, properties) -> int:
        try:
            decision = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            logger.warning("reader %s: undecodable decision", self.reader_id)
            return 0
        future = self.pending.pop(decision.get("scan_id"), None) if isinstance(decision, dict) else None
        if future is not None and not future.done():
            future.set_result(decision)
        return 0

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect once and wait for the subscription; raises OSError or TimeoutError when the broker is not there."""
        import gmqtt
        from gmqtt.mqtt.constants import MQTTv311

        from labs.mqtt import parse_url

        address = parse_url(self.url)
        client = gmqtt.Client(self.client_id, clean_session=False)
        # Once connected, gmqtt reconnects by itself (every second, for ever) when the broker goes away.
        client.set_config({"reconnect_retries": -1, "reconnect_delay": 1})
        if self.password:  # its own identity; without one the broker refuses the connection
            client.set_auth_credentials(self.reader_id, self.password)
        elif address.username:  # a bench's raw baseline may run under the URL's account
            client.set_auth_credentials(address.username, address.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.subscribed.clear()
        self.client = client
        try:
            await client.connect(address.host, address.port, keepalive=30, version=MQTTv311, ssl=address.tls)
            await asyncio.wait_for(self.subscribed.wait(), timeout)
        except BaseException:
            await self._abandon(client)
            raise

    async def connect_retrying(
        self,
        stop: asyncio.Event,
        *,
        deadline_s: float | None = None,
        first_delay_s: float = CONNECT_RETRY_FIRST_S,
        max_delay_s: float = CONNECT_RETRY_MAX_S,
    ) -> bool:
        """Connect, waiting with a growing delay while the broker is not up; False if ``stop`` is set (or
        ``deadline_s`` passes) first."""
        delay = first_delay_s
        started = time.monotonic()
        warned = False
        while not stop.is_set():
            try:
                await self.connect()
                if warned:
                    logger.info("reader %s: connected to the broker", self.reader_id)
                return True
            except (OSError, TimeoutError) as exc:
                if not warned:
                    logger.warning("reader %s: no broker yet (%s); retrying", self.reader_id, exc or type(exc).__name__)
                    warned = True
            if deadline_s is not None and time.monotonic() - started + delay > deadline_s:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, max_delay_s)
        return False

    @staticmethod
    async def _abandon(client) -> None:
        """Give up a client whose connect failed: no reconnect loop left behind in the background."""
        client._is_active = False  # gmqtt: stop its automatic reconnects
        with contextlib.suppress(Exception):
            await client.disconnect()

    def scan_payload(self, credential_type: str, value: str) -> dict:
        scan_id = f"{self.reader_id}-{next(self.counter):06d}"
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"scan_id": scan_id, "credential": {"type": credential_type, "value": value}, "ts": ts}

    async def scan(self, credential_type: str, value: str, *, timeout: float = DECISION_TIMEOUT_S) -> dict | None:
        """Publish one scan (QoS 1) and wait for its decision; the decision gains ``latency_ms``."""
        payload = self.scan_payload(credential_type, value)
        future = asyncio.get_running_loop().create_future()
        self.pending[payload["scan_id"]] = future
        started = time.perf_counter()
        self.client.publish(self.scan_topic, json.dumps(payload, separators=(",", ":")), qos=1)
        try:
            decision = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.pending.pop(payload["scan_id"], None)
            return None
        return {**decision, "latency_ms": (time.perf_counter() - started) * 1000}

    async def close(self) -> None:
        if self.client is None:
            return
        if self.client.is_connected:
            await self.client.disconnect()
        else:
            await self._abandon(self.client)  # reconnecting: stop it


# --- what the demo presents (database reads; run them in a thread from asyncio) --------------------------------


async def in_thread(function, *args):
    """Run a database read in a worker thread (the ORM is synchronous) and close that thread's connections."""

    def call():
        from django.db import connections

        try:
            return function(*args)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)


def provision_readers(site: str, readers: list[str], url: str | None) -> dict[str, str]:
    """Issue each simulated reader its MQTT credentials through the backend's service: reader slug -> password."""
    from labs.mqtt_credentials import BrokerUnavailable, mqtt_credential_issue

    deadline = time.monotonic() + 30.0  # the broker may still be starting (`make run` starts everything at once)
    passwords = {}
    for reader in readers:
        while reader not in passwords:
            try:
                passwords[reader] = mqtt_credential_issue(
                    username=reader, site=site, kind="reader", broker_url=url
                ).password
            except BrokerUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
    return passwords


def site_reader_ids(site: str) -> list[str]:
    from badges.models import Reader

    return list(Reader.objects.filter(site__slug=site, is_active=True).values_list("slug", flat=True))


def current_code_for(*, username: str | None = None, public_id: str | None = None) -> str | None:
    """The QR value a person's phone (or a badge's page) shows right now."""
    from badges import selectors
    from badges.choices import BadgeKind
    from badges.models import Badge
    from labs.models import Person

    if public_id:
        badge = Badge.objects.filter(public_id=public_id, kind=BadgeKind.DIGITAL).first()
    else:
        person = Person.objects.filter(user__username=username).first()
        badge = selectors.badge_for_person(person=person) if person else None
    return selectors.badge_current_code(badge=badge) if badge else None


def demo_scans(site: str) -> list[Scan]:
    """One demo round: the member twice (the second is a replay), the demo visitor, a card, an unknown card."""
    from django.utils import timezone

    from badges import demo
    from badges.choices import LIVE_STATUSES, BadgeKind
    from badges.models import Badge

    scans = []
    member_code = current_code_for(username="member")
    if member_code:
        scans += [Scan("qr", member_code, "member's phone"), Scan("qr", member_code, "member's phone, same code")]
    visit_badge = (
        Badge.objects.filter(
            visit__site__slug=site,
            visit__email=demo.DEMO_VISITOR["email"],
            visit__cancelled_at=None,
            visit__end__gt=timezone.now(),
            kind=BadgeKind.DIGITAL,
            status__in=LIVE_STATUSES,
        )
        .order_by("visit__start")
        .first()
    )
    visitor_code = current_code_for(public_id=visit_badge.public_id) if visit_badge else None
    if visitor_code:
        scans.append(Scan("qr", visitor_code, f"visitor {demo.DEMO_VISITOR['name']}'s phone"))
    scans.append(Scan("card", demo.DEMO_CARD_UID, "outsider's card"))
    scans.append(Scan("card", DEMO_UNKNOWN_CARD, "an unknown card"))
    return scans


def format_decision(reader_id: str, scan: Scan, decision: dict | None, *, timeout_s: float = DECISION_TIMEOUT_S) -> str:
    if decision is None:
        return f"[reader {reader_id}] {scan.label:<34} no decision within {timeout_s:g} s"
    verdict = "ALLOW" if decision.get("allow") else "deny "
    return (
        f"[reader {reader_id}] {scan.label:<34} {verdict} {decision.get('reason', '?'):<14} "
        f"{decision.get('latency_ms', 0):6.1f} ms"
    )


async def run_readers(
    *,
    site: str,
    readers: Sequence[str],
    url: str | None,
    stop: asyncio.Event,
    scans: Callable[[], list[Scan]] | Sequence[Scan] | None = None,
    interval_s: float = DEMO_INTERVAL_S,
    rounds: int | None = None,
    write: Callable[[str], None] = _write,
    provision: bool = True,
    connect_deadline_s: float | None = None,
    decision_timeout_s: float = DECISION_TIMEOUT_S,
    startup_wait_s: float = 0.0,
) -> list[dict | None]:
    """Connect the readers (waiting for the broker: for ever, or ``connect_deadline_s``), then every ``interval_s``
    present ``scans`` (a list, or a function called each round, in a thread: it may read the database) at each
    reader and write each decision. Returns the decisions.

    With ``startup_wait_s`` (the demo's), until the backend has answered once and for at most that long, a scan
    without a decision is not a result: ``make run`` starts every process at once, and a scan published before the
    bridge has subscribed reaches no one. The readers say once that they are waiting and present the round again,
    with codes read afresh. Without it (given credentials, once) a scan without a decision is reported at once."""
    if not readers:
        write(f"[readers] no active reader at site {site!r}; nothing to simulate")
        return []
    passwords = await in_thread(provision_readers, site, list(readers), url) if provision else {}
    clients = [ReaderClient(reader_id, site, url=url, password=passwords.get(reader_id)) for reader_id in readers]
    results: list[dict | None] = []
    try:
        connected = await asyncio.gather(
            *(client.connect_retrying(stop, deadline_s=connect_deadline_s) for client in clients)
        )
        if not all(connected):
            if not stop.is_set():
                write(f"[readers] no broker at {(url or '').split('@')[-1]} within {connect_deadline_s:g} s")
            return results
        write(f"[readers] {', '.join(readers)} connected; scanning every {interval_s:g} s")
        done = 0
        answered = said_waiting = False
        started = time.monotonic()
        while not stop.is_set() and (rounds is None or done < rounds):
            batch = await in_thread(scans) if callable(scans) else list(scans or [])
            waiting = False
            for client in clients:
                for scan in batch:
                    decision = await client.scan(scan.type, scan.value, timeout=decision_timeout_s)
                    if decision is None and not answered and time.monotonic() - started < startup_wait_s:
                        waiting = True
                        break
                    answered = answered or decision is not None
                    results.append(decision)
                    write(format_decision(client.reader_id, scan, decision, timeout_s=decision_timeout_s))
                if waiting:
                    break
            if waiting:
                if not said_waiting:
                    write("[readers] no decision yet: the backend may still be starting; presenting the round again")
                    said_waiting = True
                continue
            done += 1
            if rounds is not None and done >= rounds:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=_until_next_round(interval_s))
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return results


def _until_next_round(interval_s: float) -> float:
    """Seconds to wait: a round every ``interval_s``, started a second into a code step when the interval is a
    whole number of steps, so a phone's code is never one the reader already took in this step (a replay)."""
    from badges.codes import STEP_SECONDS

    if interval_s % STEP_SECONDS:
        return interval_s
    into_step = time.time() % STEP_SECONDS
    return interval_s - into_step + 1.0


async def run_site_readers(*, site: str, url: str, stop: asyncio.Event) -> None:
    """The factory ``manage.py simulate_devices`` runs: every active reader of ``site`` presents the demo round."""
    readers = await in_thread(site_reader_ids, site)
    try:
        await run_readers(
            site=site,
            readers=readers,
            url=url,
            stop=stop,
            scans=lambda: demo_scans(site),
            startup_wait_s=STARTUP_WAIT_S,
        )
    except (OSError, TimeoutError) as exc:
        logger.warning("simulated readers stopped: %s", exc)
