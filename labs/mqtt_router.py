"""Topic routing for the MQTT bridge: apps register plain handler functions; the bridge dispatches to them.

A handler is ``handler(topic: str, payload: dict) -> Iterable[Publish] | None``. It does its work through the app's
services and returns the messages to publish in reply (a reader's decision, for example), which the bridge sends at
once. Tests call handlers, or :func:`dispatch`, directly, with no broker. Apps register from ``AppConfig.ready()``,
so ``labs`` never imports them.

Before any handler runs, :func:`dispatch` checks the message (labs/mqtt_payloads.py: a device leaf of contract v1,
size, strict JSON, depth, 64-bit integers, NUL, the leaf's JSON Schema); a message that fails is dropped with a
logged reason and counted against its device, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

from labs import mqtt_payloads
from labs.topics import Publish, matches

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], Iterable[Publish] | None]

_routes: list[tuple[str, Handler]] = []


def register(topic_filter: str, handler: Handler) -> None:
    """Route messages whose topic matches ``topic_filter`` (MQTT wildcards ``+`` and ``#``) to ``handler``."""
    if (topic_filter, handler) not in _routes:
        _routes.append((topic_filter, handler))


def subscriptions() -> list[str]:
    """The topic filters the bridge subscribes to."""
    return sorted({topic_filter for topic_filter, _ in _routes})


def dispatch(topic: str, raw: bytes | str | dict | mqtt_payloads.Oversize) -> list[Publish]:
    """Check ``raw`` (labs/mqtt_payloads.py) and run every matching handler on the JSON object; a message that fails
    the check is dropped (a logged reason, a count against its device) and no handler sees it."""
    try:
        payload = mqtt_payloads.check(topic, raw)
    except mqtt_payloads.Dropped as dropped:
        mqtt_payloads.record_drop(topic, dropped.reason)
        return []
    replies: list[Publish] = []
    for topic_filter, handler in list(_routes):
        if matches(topic_filter, topic):
            try:
                if transaction.get_connection().in_atomic_block:
                    # Inside the bridge's batch transaction: a savepoint, so a failing handler rolls back only its
                    # own work and the batch goes on.
                    with transaction.atomic():
                        replies.extend(handler(topic, payload) or [])
                else:
                    replies.extend(handler(topic, payload) or [])
            except Exception:
                logger.exception("handler %s failed on %s", getattr(handler, "__name__", handler), topic)
    return replies
