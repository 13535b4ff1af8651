"""The MQTT outbox: messages written in the caller's transaction, published only after it commits.

``outbox_enqueue`` adds a row inside the service's transaction. After commit the committing process publishes it
at once through its own client (the "nudge", ``MQTT_OUTBOX_NUDGE``), and marks it sent when the broker acknowledged
it (PUBACK). Whatever is still unsent a moment later (the process died, the broker was down) is published by the
bridge (``manage.py mqtt_bridge``), which drains the outbox in id order. A message can go out twice only when its
PUBACK did not come in time (then it is published again), never zero times: the device contract makes that harmless
(versions and ``cmd_id`` idempotency).

Several bridges drain one outbox (PostgreSQL): each *claims* rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` and
holds the claim (its transaction) while it publishes and marks them, so two bridges, or a bridge and a nudge, never
publish the same row. A topic with an older row held by another claimer is left for the next round, so each device's
documents still go out in id order. SQLite has no row locks: there one bridge drains, outside a transaction.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from labs import bulk
from labs.models import OutboxMessage
from labs.topics import Publish, encode, matches
from labs.transactions import after_commit

logger = logging.getLogger(__name__)

SentHandler = Callable[[list[OutboxMessage], datetime], None]
_sent_handlers: list[tuple[str, SentHandler]] = []


def register_sent(topic_filter: str, handler: SentHandler) -> None:
    """``handler(messages, sent_at)`` runs after the broker acknowledged messages whose topic matches the filter
    (apps use it to move their records along, e.g. a command from queued to sent). Register from ready()."""
    if (topic_filter, handler) not in _sent_handlers:
        _sent_handlers.append((topic_filter, handler))


def _after_sent(messages: list[OutboxMessage], sent_ids: list[int], at: datetime) -> None:
    sent = set(sent_ids)
    done = [m for m in messages if m.pk in sent]
    for topic_filter, handler in list(_sent_handlers):
        matching = [m for m in done if matches(topic_filter, m.topic)]
        if matching:
            try:
                handler(matching, at)
            except Exception:
                logger.exception("outbox sent handler %s failed", getattr(handler, "__name__", handler))


def outbox_enqueue(message: Publish) -> OutboxMessage:
    """Add one message; published after the surrounding transaction commits (never if it rolls back)."""
    return outbox_enqueue_many([message])[0]


def outbox_enqueue_many(messages: Iterable[Publish]) -> list[OutboxMessage]:
    """Add messages in one INSERT (``labs.bulk``: one statement for any count); one after-commit nudge for all."""
    messages = list(messages)
    if not messages:
        return []
    created = bulk.create_many(
        OutboxMessage,
        {
            "topic": [m.topic for m in messages],
            "payload": [m.payload for m in messages],
            "qos": [m.qos for m in messages],
            "retain": [m.retain for m in messages],
        },
        same={"created_at": timezone.now()},
    )
    if settings.MQTT_OUTBOX_NUDGE:
        after_commit(outbox_nudge, messages=created)
    return created


def outbox_pending(*, limit: int = 1000, older_than: timedelta | None = None) -> list[OutboxMessage]:
    queryset = OutboxMessage.objects.filter(sent_at__isnull=True)
    if older_than:
        queryset = queryset.filter(created_at__lte=timezone.now() - older_than)
    return list(queryset.order_by("id")[:limit])


def _claims() -> bool:
    """Whether the database can claim rows (PostgreSQL); SQLite cannot, and there one bridge drains the outbox."""
    return connection.features.has_select_for_update_skip_locked


def outbox_claim(*, limit: int = 1000, older_than: timedelta | None = None) -> list[OutboxMessage]:
    """Inside a transaction: lock up to ``limit`` unsent rows in id order that no one else holds (SKIP LOCKED).
    Rows of a topic that has an older unsent row held by another claimer are not returned: they wait, so each
    topic's messages go out in order even with several bridges."""
    queryset = OutboxMessage.objects.filter(sent_at__isnull=True)
    if older_than:
        queryset = queryset.filter(created_at__lte=timezone.now() - older_than)
    claimed = list(queryset.select_for_update(skip_locked=True).order_by("id")[:limit])
    if not claimed:
        return []
    held = set(
        OutboxMessage.objects.filter(sent_at__isnull=True, id__lt=claimed[-1].pk, topic__any={m.topic for m in claimed})
        .exclude(id__any=[m.pk for m in claimed])
        .values_list("topic", flat=True)
    )
    return [m for m in claimed if m.topic not in held] if held else claimed


def outbox_mark_sent(*, ids: list[int], at: datetime | None = None) -> int:
    if not ids:
        return 0
    return OutboxMessage.objects.filter(id__any=ids, sent_at__isnull=True).update(
        sent_at=at or timezone.now(), attempts=F("attempts") + 1, last_error=""
    )


def outbox_mark_failed(*, ids: list[int], error: str) -> int:
    if not ids:
        return 0
    return OutboxMessage.objects.filter(id__any=ids, sent_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=error[:255]
    )


def outbox_publish(*, client, messages: list[OutboxMessage], timeout: float = 5.0) -> tuple[list[int], list[int]]:
    """Publish ``messages`` in order on a connected paho client and wait for their PUBACKs (QoS 1) or their hand-over
    to the socket (QoS 0). Returns (sent ids, failed ids); nothing is written to the database here."""
    pending, failed = _hand_over(client, messages)
    sent, not_acked = _await_published(pending, timeout)
    return sent, failed + not_acked


def _hand_over(client, messages: list[OutboxMessage]) -> tuple[list[tuple[int, object]], list[int]]:
    """Queue ``messages`` on the client (its network thread sends them); returns (pending (id, info), failed ids)."""
    pending = []
    failed = []
    for message in messages:
        info = client.publish(message.topic, encode(message.payload), qos=message.qos, retain=message.retain)
        if info.rc != 0:
            failed.append(message.pk)
        else:
            pending.append((message.pk, info))
    return pending, failed


def _await_published(pending: list[tuple[int, object]], timeout: float) -> tuple[list[int], list[int]]:
    deadline = time.monotonic() + timeout
    sent = []
    failed = []
    for pk, info in pending:
        remaining = deadline - time.monotonic()
        try:
            if remaining > 0:
                info.wait_for_publish(remaining)
        except (RuntimeError, ValueError):
            pass
        (sent if info.is_published() else failed).append(pk)
    return sent, failed


SUPERSEDED_DETAIL = "not published: a newer retained message of its topic had been sent"


def _drop_superseded(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Retained messages whose topic already had a *newer* row sent (a nudge published it while this one waited,
    e.g. after a broker outage) are marked sent without being published: published late they would replace the
    newer retained document at the broker, and a device that reconnects would get the older one. Returns the rest."""
    retained = [m for m in messages if m.retain]
    if not retained:
        return messages
    newest_sent = dict(
        OutboxMessage.objects.filter(
            topic__any={m.topic for m in retained},
            retain=True,
            sent_at__isnull=False,
            id__gt=min(m.pk for m in retained),
        )
        .order_by()
        .values("topic")
        .annotate(newest=Max("id"))
        .values_list("topic", "newest")
    )
    stale = {m.pk for m in retained if newest_sent.get(m.topic, 0) > m.pk}
    if not stale:
        return messages
    OutboxMessage.objects.filter(id__any=stale, sent_at__isnull=True).update(
        sent_at=timezone.now(), last_error=SUPERSEDED_DETAIL
    )
    logger.info("outbox: %d retained message(s) superseded by newer ones already sent; not published", len(stale))
    return [m for m in messages if m.pk not in stale]


def outbox_drain(*, client, limit: int = 1000, older_than: timedelta | None = None, timeout: float = 5.0) -> int:
    """Publish up to ``limit`` unsent messages in id order; returns how many the broker acknowledged.

    PostgreSQL: the rows are claimed (SKIP LOCKED) and held until they are marked, so bridges side by side never
    publish the same row. SQLite: read, publish, then mark (one bridge). A retained message whose topic already had
    a newer one sent is not published (:func:`_drop_superseded`)."""
    if _claims():
        with transaction.atomic():
            messages = _drop_superseded(outbox_claim(limit=limit, older_than=older_than))
            if not messages:
                return 0
            sent, failed = outbox_publish(client=client, messages=messages, timeout=timeout)
            at = timezone.now()
            outbox_mark_sent(ids=sent, at=at)
            outbox_mark_failed(ids=failed, error="not acknowledged by the broker")
            _after_sent(messages, sent, at)
        return len(sent)
    messages = _drop_superseded(outbox_pending(limit=limit, older_than=older_than))
    if not messages:
        return 0
    sent, failed = outbox_publish(client=client, messages=messages, timeout=timeout)
    at = timezone.now()
    with transaction.atomic():  # one commit for the bookkeeping
        outbox_mark_sent(ids=sent, at=at)
        outbox_mark_failed(ids=failed, error="not acknowledged by the broker")
        _after_sent(messages, sent, at)
    return len(sent)


def outbox_nudge(*, messages: list[OutboxMessage]) -> int:
    """Right after commit: publish these (committed) rows from this process if its client is connected, without
    reading them back. Never raises: whatever is not acknowledged stays for the bridge.

    A bridge drains only rows older than ``MQTT_OUTBOX_GRACE_MS``, so rows still well inside that grace are
    published at once and marked afterwards: no claim query stands between a check-in's commit and its desk moving.
    Rows that reach the nudge late (slow after-commit work before it) are claimed first (PostgreSQL), like a bridge
    claims them, so the two never both publish a row whose claim is held."""
    try:
        from labs import mqtt

        client = mqtt.publisher()
        if client is None:
            return 0
        fresh_until = timezone.now() - timedelta(milliseconds=settings.MQTT_OUTBOX_GRACE_MS / 2)
        late = _claims() and any(m.created_at <= fresh_until for m in messages)
        if not late and len(messages) >= settings.MQTT_OUTBOX_NUDGE_HAND_OFF and connection.vendor == "postgresql":
            # A large nudge (a fan-out's chunk): the caller goes on (with its next chunk) at once. This process's
            # hand-over thread gives the messages to the client, in commit order, while the caller writes; a
            # bookkeeper thread claims the rows, waits for the PUBACKs and marks them sent.
            _book_later(messages, _hand_over_later(client, messages))
            return len(messages)
        if not _hand_overs_done(settings.MQTT_OUTBOX_NUDGE_TIMEOUT):
            return 0  # a large nudge is still being handed over: published now, these could overtake it
        if late:
            with transaction.atomic():
                ids = set(
                    OutboxMessage.objects.select_for_update(skip_locked=True)
                    .filter(id__any=[m.pk for m in messages], sent_at__isnull=True)
                    .values_list("id", flat=True)
                )
                messages = [m for m in messages if m.pk in ids]
                if not messages:
                    return 0
                sent, _failed = outbox_publish(
                    client=client, messages=messages, timeout=settings.MQTT_OUTBOX_NUDGE_TIMEOUT
                )
                at = timezone.now()
                outbox_mark_sent(ids=sent, at=at)
                _after_sent(messages, sent, at)
            return len(sent)
        sent, _failed = outbox_publish(client=client, messages=messages, timeout=settings.MQTT_OUTBOX_NUDGE_TIMEOUT)
        _bookkeep(messages, sent)
        return len(sent)
    except Exception:  # the bridge publishes whatever the nudge could not
        logger.exception("outbox nudge failed; the bridge will publish the messages")
        return 0


def _bookkeep(messages: list[OutboxMessage], sent: list[int]) -> None:
    at = timezone.now()
    with transaction.atomic():  # one commit for the bookkeeping
        outbox_mark_sent(ids=sent, at=at)
        _after_sent(messages, sent, at)


class _HandOff:
    """Messages of one large nudge on their way to the client; ``pending`` is set when the hand-over thread is done."""

    def __init__(self, client, messages: list[OutboxMessage]) -> None:
        self.client = client
        self.messages = messages
        self.pending: list[tuple[int, object]] = []
        self.done = threading.Event()


_hand_over_queue: queue.SimpleQueue | None = None
_hand_over_pid: int | None = None
_last_hand_over: _HandOff | None = None
_hand_over_lock = threading.Lock()


def _hand_over_later(client, messages: list[OutboxMessage]) -> _HandOff:
    """Queue a large nudge for this process's hand-over thread (started on first use, again after a fork). One
    thread, first in first out: the nudges reach the client in the order they committed, so a device never gets an
    older document after a newer one. Giving 1,000 messages to paho is ~1/6 of a fan-out chunk's time in the
    committing thread (py-spy); here it runs while that thread waits on the database with its next chunk."""
    global _hand_over_queue, _hand_over_pid, _last_hand_over
    hand_off = _HandOff(client, messages)
    with _hand_over_lock:
        if _hand_over_queue is None or _hand_over_pid != os.getpid():
            _hand_over_queue, _hand_over_pid = queue.SimpleQueue(), os.getpid()
            threading.Thread(
                target=_hand_over_loop, args=(_hand_over_queue,), name="outbox-hand-over", daemon=True
            ).start()
        _last_hand_over = hand_off
        _hand_over_queue.put(hand_off)
    return hand_off


def _hand_over_loop(hand_offs: queue.SimpleQueue) -> None:
    while True:
        hand_off = hand_offs.get()
        try:
            hand_off.pending, _failed = _hand_over(hand_off.client, hand_off.messages)
        except Exception:  # the bridge publishes whatever was not handed over
            logger.exception("outbox hand-over failed; the bridge will publish the messages")
        finally:
            hand_off.done.set()


def _hand_overs_done(timeout: float) -> bool:
    """Wait up to ``timeout`` for every large nudge queued in this process to be handed over (first in, first out:
    the last one done means all are). True when none is waiting."""
    last = _last_hand_over if _hand_over_pid == os.getpid() else None
    return last is None or last.done.wait(timeout)


_bookkeepers: list[threading.Thread] = []
_bookkeepers_lock = threading.Lock()


def _book_later(messages: list[OutboxMessage], hand_off: _HandOff) -> None:
    """A bookkeeper thread for one handed-off nudge. It first claims the rows (SKIP LOCKED, in its own transaction,
    within milliseconds of their commit), so a bridge draining meanwhile skips them instead of publishing them a
    second time, however long the PUBACKs take (measured before this claim: 3,750 of a 10,000-device fan-out were
    published twice); then it waits for the hand-over and the PUBACKs and marks the claimed rows sent. Rows a
    bridge had already claimed are left to it. If the process ends first, the rows stay unsent and a bridge
    publishes them after the grace: devices answer a repeated ``cmd_id`` as before (idempotent). One thread per
    nudge, so a chunk's claim never waits behind the previous chunk's PUBACKs."""

    def run() -> None:
        try:
            with transaction.atomic():
                claimed = set(
                    OutboxMessage.objects.select_for_update(skip_locked=True)
                    .filter(id__any=[m.pk for m in messages], sent_at__isnull=True)
                    .values_list("id", flat=True)
                )
                timeout = settings.MQTT_OUTBOX_NUDGE_TIMEOUT * 5
                hand_off.done.wait(timeout)
                sent, _failed = _await_published(
                    [(pk, info) for pk, info in hand_off.pending if pk in claimed], timeout
                )
                _bookkeep(messages, sent)
        except Exception:
            logger.exception("outbox bookkeeping failed; the bridge will publish the messages again")
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="outbox-bookkeeper", daemon=True)
    with _bookkeepers_lock:
        _bookkeepers[:] = [t for t in _bookkeepers if t.is_alive()]
        _bookkeepers.append(thread)
    thread.start()


def outbox_settled(timeout: float = 30.0) -> bool:
    """Wait until every large nudge of this process is handed over and booked (tests, benches, shutdown)."""
    deadline = time.monotonic() + timeout
    if not _hand_overs_done(timeout):
        return False
    with _bookkeepers_lock:
        threads = list(_bookkeepers)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def outbox_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete messages sent longer ago than ``older_than`` (their retention)."""
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=timezone.now() - older_than).delete()
    return deleted
