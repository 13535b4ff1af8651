"""Topic routing for the MQTT bridge: apps register plain handler functions; the bridge dispatches to them.

A handler is ``handler(topic: str, payload: dict) -> Iterable[Publish] | None``. It does its work through the app's
services and returns the messages to publish in reply (a reader's decision, for example), which the bridge sends at
once. Tests call handlers, or :func:`dispatch`, directly, with no broker. Apps register from ``AppConfig.ready()``,
so ``labs`` never imports them.

Before any handler runs, :func:`dispatch` checks the message (labs/mqtt_payloads.py: a device leaf of contract v1,
size, strict JSON, depth, 64-bit integers, NUL, the leaf's JSON Schema); a message that fails is dropped with a
logged reason and counted against its device, never raised.

The bridge hands a whole batch to :func:`dispatch_batch`: checked, coalesced (routes registered ``coalesce=True``,
i.e. full-state leaves such as ``reported``: the last message of a topic wins, in its place, so a device's messages
keep their order), then handled in ONE transaction that first runs the registered lock hooks (apps lock the rows the
batch touches in a stable order, so a batch never deadlocks with a service that locks them in the same order). If any
handler raises, the batch rolls back and its messages are handled again one by one, each in its own transaction, so a
bad message costs its own work only. Routes registered ``alone=True`` (a reader's scan: its audit row is committed
durably before the answer) always run one by one, before the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import close_old_connections, transaction

from labs import mqtt_payloads, topics
from labs.topics import Publish

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], Iterable[Publish] | None]

_routes: list[tuple[str, Handler]] = []
# per topic filter: coalesce (full-state leaves: last wins) and alone (never inside a batch transaction)
_options: dict[str, dict[str, bool]] = {}
LockHook = Callable[[list[str]], None]
_lock_hooks: list[LockHook] = []
BatchHandler = Callable[[list[tuple[str, dict]]], Iterable[Publish] | None]
# per topic filter: a set-based handler used inside a batch instead of one per-message handler of that filter
_batch_handlers: dict[str, tuple[BatchHandler, Handler]] = {}


def register(topic_filter: str, handler: Handler, *, coalesce: bool = False, alone: bool = False) -> None:
    """Route messages whose topic matches ``topic_filter`` (MQTT wildcards ``+`` and ``#``) to ``handler``.

    ``coalesce``: in a batch only the last message of each topic matching the filter is handled (the leaf carries a
    full state, e.g. ``reported``). ``alone``: the handler runs in its own transaction, never inside a batch."""
    global _generation
    if (topic_filter, handler) not in _routes:
        _routes.append((topic_filter, handler))
    options = _options.setdefault(topic_filter, {"coalesce": False, "alone": False})
    options["coalesce"] = options["coalesce"] or coalesce
    options["alone"] = options["alone"] or alone
    _generation += 1


def register_batch(topic_filter: str, handler: BatchHandler, *, replaces: Handler) -> None:
    """In a batch, hand every message of a round that matches ``topic_filter`` to ``handler(items)`` at once, instead
    of calling ``replaces`` (a per-message handler registered on that filter with :func:`register`) once per message:
    the set-based form of the same rules (e.g. all acks of a round in three statements). Outside batches ``replaces``
    runs; other handlers registered on the same filter run per message in batches too."""
    if (topic_filter, replaces) not in _routes:
        raise ValueError(f"register {replaces!r} on {topic_filter!r} before its batch form")
    global _generation
    _batch_handlers[topic_filter] = (handler, replaces)
    _generation += 1


def alone_subscriptions() -> list[str]:
    """The filters of routes that run alone (reader scans): a bridge on MQTT 5 takes them on their own connection."""
    return sorted({f for f, _ in _routes if _options.get(f, {}).get("alone")})


def retained_subscriptions() -> list[str]:
    """The filters of coalescing (full-state) routes: the retained leaves a bridge on shared subscriptions fetches
    plainly once after each connect."""
    return sorted({f for f, _ in _routes if _options.get(f, {}).get("coalesce")})


def register_lock(hook: LockHook) -> None:
    """``hook(topics)`` runs first in every batch transaction: lock the rows these topics touch in a stable order
    (e.g. by primary key) so the batch takes its locks in the same order as the app's services."""
    if hook not in _lock_hooks:
        _lock_hooks.append(hook)


def is_alone(topic: str) -> bool:
    """Whether ``topic``'s route runs alone (a reader's scan): the bridge gives those their own lane."""
    return _flag(topic, "alone")


def _flag(topic: str, name: str) -> bool:
    """Whether a route matching ``topic`` was registered with option ``name``."""
    return getattr(_plan(topic), name)


@dataclass(frozen=True)
class _Plan:
    """What the routing table says of one topic, worked out once per topic and table (:func:`_plan`)."""

    routes: tuple[tuple[str, Handler], ...]  # the matching routes, in registration order
    coalesce: bool
    alone: bool
    batch_filter: str | None  # the first batch handler's filter that matches, if any
    device: str  # "site/kind/id" of a device topic (a round holds one message per device), else the topic


_generation = 0  # bumped by every registration: options change in place
_plans: dict[tuple, _Plan] = {}
_PLANS_MAX = 100_000  # distinct topics remembered (a device has a handful); then the cache starts again


def _plan(topic: str) -> _Plan:
    """The routes of ``topic`` and their options. Every message asked the table three or four times, splitting the
    topic and every filter each time; a site's devices send the same few topics again and again, so the answer is
    kept per topic (keyed by the table's identity too: tests swap the table). A topic not seen before (a fan-out's
    10,000 devices answering once each) takes the answer of its *shape* (:func:`_shape`) when one is known."""
    table = (_generation, id(_routes), len(_routes), id(_options), id(_batch_handlers), len(_batch_handlers))
    key = (topic, table)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    parts = topic.split("/")
    shape_key = (table, _shape(parts, table))
    shape = _shapes.get(shape_key)
    if shape is None:
        routes = tuple((f, h) for f, h in _routes if topics.parts_match(topics.filter_parts(f), parts))
        filters = {f for f, _ in routes}
        shape = (
            routes,
            any(_options.get(f, {}).get("coalesce") for f in filters),
            any(_options.get(f, {}).get("alone") for f in filters),
            next((f for f in _batch_handlers if topics.parts_match(topics.filter_parts(f), parts)), None),
        )
        if len(_shapes) >= _PLANS_MAX:
            _shapes.clear()
        _shapes[shape_key] = shape
    # Any "labs/v1/{site}/{kind}/{id}/{leaf}" names its device by the three levels in the middle (a topic that is
    # not a valid device topic is dropped by the checks before rounds are made); anything else stands for itself.
    device = "/".join(parts[2:5]) if len(parts) == 6 and parts[0] == _ROOT[0] and parts[1] == _ROOT[1] else topic
    plan = _Plan(routes=shape[0], coalesce=shape[1], alone=shape[2], batch_filter=shape[3], device=device)
    if len(_plans) >= _PLANS_MAX:
        _plans.clear()
    _plans[key] = plan
    return plan


_ROOT = tuple(topics.ROOT.split("/"))
_shapes: dict[tuple, tuple] = {}
_literal_levels: dict[tuple, frozenset[int]] = {}


def _shape(parts: list[str], table: tuple) -> tuple:
    """What decides which filters match a topic (``topics.parts_match``): its number of levels and its level at each
    position where some filter has a literal (not ``+`` or ``#``); the other levels (site slugs, device ids) are
    left out, so every device's ack topic has one shape."""
    literal = _literal_levels.get(table)
    if literal is None:
        literal = frozenset(
            index
            for f in [*(f for f, _ in _routes), *_batch_handlers]
            for index, level in enumerate(topics.filter_parts(f))
            if level not in {"+", "#"}
        )
        _literal_levels.clear()
        _literal_levels[table] = literal
    return (len(parts), *(part if index in literal else None for index, part in enumerate(parts)))


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
    for _topic_filter, handler in _plan(topic).routes:
        try:
            if transaction.get_connection().in_atomic_block:
                # Inside the bridge's batch transaction: a savepoint, so a failing handler rolls back only its own
                # work and the batch goes on.
                with transaction.atomic():
                    replies.extend(handler(topic, payload) or [])
            else:
                replies.extend(handler(topic, payload) or [])
        except Exception:
            logger.exception("handler %s failed on %s", getattr(handler, "__name__", handler), topic)
    return replies


@dataclass
class BatchResult:
    replies: list[Publish] = field(default_factory=list)
    handled: int = 0  # messages that reached the handlers (after checks and coalescing)
    coalesced: int = 0  # messages replaced by a later one of the same topic
    dropped: int = 0  # messages that failed the checks
    fell_back: bool = False  # the batch transaction failed and its messages were handled one by one


def coalesce(messages: list[tuple[str, dict]]) -> tuple[list[tuple[str, dict]], int]:
    """Keep, for each topic of a coalescing route, only its last message, in the place of that last message: the
    remaining messages of a device keep their arrival order. Returns (kept, how many were replaced)."""
    last: dict[str, int] = {}
    for index, (topic, _) in enumerate(messages):
        if _flag(topic, "coalesce"):
            last[topic] = index
    kept = [(t, p) for i, (t, p) in enumerate(messages) if last.get(t, i) == i]
    return kept, len(messages) - len(kept)


def rounds(messages: list[tuple[str, dict]]) -> list[list[tuple[str, dict]]]:
    """Split a batch into rounds: round k holds the k-th message of every device (in arrival order). A device's
    messages stay in order across rounds, and within a round each device has one message, so a round may be handled
    set-based (all its acks at once) without reordering any device's messages."""
    per_device: dict[str, list[tuple[str, dict]]] = {}
    for topic, payload in messages:
        per_device.setdefault(_plan(topic).device, []).append((topic, payload))
    depth = max((len(queue) for queue in per_device.values()), default=0)
    return [[queue[k] for queue in per_device.values() if len(queue) > k] for k in range(depth)]


def _run_round(items: list[tuple[str, dict]]) -> list[Publish]:
    """One round: each batch handler once with its messages, every other message through its handlers."""
    replies: list[Publish] = []
    grouped: dict[str, list[tuple[str, dict]]] = {}
    for topic, payload in items:
        batch_filter = _plan(topic).batch_filter
        skip = None
        if batch_filter is not None:
            grouped.setdefault(batch_filter, []).append((topic, payload))
            skip = (batch_filter, _batch_handlers[batch_filter][1])
        replies.extend(_run_handlers(topic, payload, skip=skip))
    for batch_filter, group in grouped.items():
        replies.extend(_batch_handlers[batch_filter][0](group) or [])
    return replies


def _run_handlers(topic: str, payload: dict, skip: tuple[str, Handler] | None = None) -> list[Publish]:
    """Every matching handler but ``skip`` (the route a batch handler stands in for); an exception propagates (the
    batch falls back to one by one)."""
    replies: list[Publish] = []
    for route in _plan(topic).routes:
        if route != skip:
            replies.extend(route[1](topic, payload) or [])
    return replies


def dispatch_batch(messages: Iterable[tuple[str, bytes | str | dict | mqtt_payloads.Oversize]]) -> BatchResult:
    """Check, coalesce and handle ``messages`` (in arrival order): ``alone`` routes one by one first, the rest in one
    transaction after the lock hooks; on any error there, the whole batch again one by one. Never raises for a
    message; returns the replies to publish (only of committed work) and counts."""
    result = BatchResult()
    checked: list[tuple[str, dict]] = []
    for topic, raw in messages:
        try:
            checked.append((topic, mqtt_payloads.check(topic, raw)))
        except mqtt_payloads.Dropped as dropped:
            mqtt_payloads.record_drop(topic, dropped.reason)
            result.dropped += 1
    kept, result.coalesced = coalesce(checked)
    alone: list[tuple[str, dict]] = []
    batch: list[tuple[str, dict]] = []
    for message in kept:
        (alone if _flag(message[0], "alone") else batch).append(message)
    for topic, payload in alone:
        result.replies.extend(dispatch(topic, payload))
        result.handled += 1
    if not batch:
        return result
    try:
        replies: list[Publish] = []
        with transaction.atomic():
            for hook in list(_lock_hooks):
                hook([t for t, _ in batch])
            for round_ in rounds(batch):
                replies.extend(_run_round(round_))
        result.replies.extend(replies)
        result.handled += len(batch)
    except Exception:
        logger.warning("a batch of %s messages failed; handling them one by one", len(batch), exc_info=True)
        if not transaction.get_connection().in_atomic_block:  # a broken connection is replaced before the retry
            close_old_connections()
        result.fell_back = True
        for topic, payload in batch:
            result.replies.extend(dispatch(topic, payload))
            result.handled += 1
    return result
