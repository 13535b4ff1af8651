"""The MQTT outbox: messages written in the caller's transaction, published only after it commits.

``outbox_enqueue`` adds a row inside the service's transaction. After commit the committing process publishes it
at once through its own client (the "nudge", ``MQTT_OUTBOX_NUDGE``), and marks it sent when the broker acknowledged
it (PUBACK). Whatever is still unsent a moment later (the process died, the broker was down) is published by the
bridge (``manage.py mqtt_bridge``), which drains the outbox in id order. A message can therefore go out twice, never
zero times: the device contract makes that harmless (versions and ``cmd_id`` idempotency).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

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
    """Add messages in one INSERT; one after-commit nudge for all."""
    now = timezone.now()
    rows = [
        OutboxMessage(topic=m.topic, payload=m.payload, qos=m.qos, retain=m.retain, created_at=now) for m in messages
    ]
    if not rows:
        return []
    created = OutboxMessage.objects.bulk_create(rows)
    if created[0].pk is None:  # backends without RETURNING on bulk insert: read the ids back
        created = list(OutboxMessage.objects.filter(created_at=now, sent_at__isnull=True).order_by("id"))[-len(rows) :]
    if settings.MQTT_OUTBOX_NUDGE:
        after_commit(outbox_nudge, messages=created)
    return created


def outbox_pending(*, limit: int = 1000, older_than: timedelta | None = None) -> list[OutboxMessage]:
    queryset = OutboxMessage.objects.filter(sent_at__isnull=True)
    if older_than:
        queryset = queryset.filter(created_at__lte=timezone.now() - older_than)
    return list(queryset.order_by("id")[:limit])


def outbox_mark_sent(*, ids: list[int], at: datetime | None = None) -> int:
    if not ids:
        return 0
    return OutboxMessage.objects.filter(id__in=ids, sent_at__isnull=True).update(
        sent_at=at or timezone.now(), attempts=F("attempts") + 1, last_error=""
    )


def outbox_mark_failed(*, ids: list[int], error: str) -> int:
    if not ids:
        return 0
    return OutboxMessage.objects.filter(id__in=ids, sent_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=error[:255]
    )


def outbox_publish(*, client, messages: list[OutboxMessage], timeout: float = 5.0) -> tuple[list[int], list[int]]:
    """Publish ``messages`` in order on a connected paho client and wait for their PUBACKs (QoS 1) or their hand-over
    to the socket (QoS 0). Returns (sent ids, failed ids); nothing is written to the database here."""
    pending = []
    failed = []
    for message in messages:
        info = client.publish(message.topic, encode(message.payload), qos=message.qos, retain=message.retain)
        if info.rc != 0:
            failed.append(message.pk)
        else:
            pending.append((message.pk, info))
    deadline = time.monotonic() + timeout
    sent = []
    for pk, info in pending:
        remaining = deadline - time.monotonic()
        try:
            if remaining > 0:
                info.wait_for_publish(remaining)
        except (RuntimeError, ValueError):
            pass
        (sent if info.is_published() else failed).append(pk)
    return sent, failed


def outbox_drain(*, client, limit: int = 1000, older_than: timedelta | None = None, timeout: float = 5.0) -> int:
    """Publish up to ``limit`` unsent messages in id order; returns how many the broker acknowledged."""
    messages = outbox_pending(limit=limit, older_than=older_than)
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
    reading them back. Never raises: whatever is not acknowledged stays for the bridge."""
    try:
        from labs import mqtt

        client = mqtt.publisher()
        if client is None:
            return 0
        sent, _failed = outbox_publish(client=client, messages=messages, timeout=settings.MQTT_OUTBOX_NUDGE_TIMEOUT)
        at = timezone.now()
        with transaction.atomic():  # one commit for the bookkeeping
            outbox_mark_sent(ids=sent, at=at)
            _after_sent(messages, sent, at)
        return len(sent)
    except Exception:  # the bridge publishes whatever the nudge could not
        logger.exception("outbox nudge failed; the bridge will publish the messages")
        return 0


def outbox_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete messages sent longer ago than ``older_than`` (their retention)."""
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=timezone.now() - older_than).delete()
    return deleted
