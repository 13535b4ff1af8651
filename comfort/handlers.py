"""MQTT handlers: plain functions ``handle_<message>(topic, payload)`` the bridge calls through labs.mqtt_router.

Tests call them directly, without a broker. Each checks the topic and the payload's shape (docs/mqtt-schemas/) and
hands the message to one service; a malformed message is logged and dropped, never raised.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from comfort import services
from labs import topics
from labs.topics import Publish
from labs.transactions import after_commit

logger = logging.getLogger(__name__)


def _device_topic(topic: str, leaf: str) -> tuple[str, str] | None:
    parsed = topics.parse(topic)
    if parsed is None or parsed.kind not in topics.DEVICE_KINDS or parsed.leaf != leaf:
        return None
    return parsed.site, parsed.device_id


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def handle_ack(topic: str, payload: dict) -> list[Publish]:
    where = _device_topic(topic, "ack")
    if where is None:
        return []
    if not (
        isinstance(payload.get("cmd_id"), str)
        and _is_int(payload.get("av"))
        and _is_int(payload.get("ac"))
        and 100 <= payload["ac"] <= 599
    ):
        logger.warning("dropping malformed ack on %s: %r", topic, payload)
        return []
    try:
        services.command_record_ack(site=where[0], device_id=where[1], payload=payload, at=timezone.now())
    except Exception as exc:  # a cmd_id that is not a UUID, for example
        if type(exc).__name__ == "ValidationError":
            logger.warning("dropping ack with an invalid cmd_id on %s", topic)
            return []
        raise
    return []


def handle_acks(items: list[tuple[str, dict]]) -> list[Publish]:
    """The bridge's batch form of :func:`handle_ack`: every ack of a batch round in three statements."""
    acks = []
    for topic, payload in items:
        where = _device_topic(topic, "ack")
        if where is None:
            continue
        if not (
            isinstance(payload.get("cmd_id"), str)
            and _is_int(payload.get("av"))
            and _is_int(payload.get("ac"))
            and 100 <= payload["ac"] <= 599
        ):
            logger.warning("dropping malformed ack on %s: %r", topic, payload)
            continue
        acks.append((where[0], where[1], payload))
    if acks:
        services.commands_record_acks(acks=acks, at=timezone.now())
    return []


def handle_reported(topic: str, payload: dict) -> list[Publish]:
    where = _device_topic(topic, "reported")
    if where is None or not _is_int(payload.get("v_applied")):
        logger.warning("dropping malformed report on %s", topic)
        return []
    now = timezone.now()
    services.device_record_reported(site=where[0], device_id=where[1], payload=payload, at=now)
    if _sensed_someone(topic, payload, now):
        # After commit, in its own transaction: a check-in locks the booking before the devices, while the bridge's
        # batch holds device locks; doing it here would take them in the opposite order.
        after_commit(services.device_record_presence, site=where[0], device_id=where[1], at=now)
    return []


def handle_reports(items: list[tuple[str, dict]]) -> list[Publish]:
    """The bridge's batch form of :func:`handle_reported`: a round's reports (one per device) in two statements."""
    now = timezone.now()
    reports = []
    for topic, payload in items:
        where = _device_topic(topic, "reported")
        if where is None or not _is_int(payload.get("v_applied")):
            logger.warning("dropping malformed report on %s", topic)
            continue
        reports.append((where[0], where[1], payload))
        if _sensed_someone(topic, payload, now):
            after_commit(services.device_record_presence, site=where[0], device_id=where[1], at=now)
    if reports:
        services.devices_record_reported(reports=reports, at=now)
    return []


def _sensed_someone(topic: str, payload: dict, now) -> bool:
    """A desk's fresh report that someone is at it (a retained report replayed on reconnect is old news)."""
    return (
        payload.get("occupied") is True
        and topics.parse(topic).kind == "desk"
        and services.report_is_fresh(payload.get("ts"), now)
    )


def handle_status(topic: str, payload: dict) -> list[Publish]:
    where = _device_topic(topic, "status")
    state = payload.get("status")
    if where is None or state not in ("online", "offline"):
        logger.warning("dropping malformed status on %s", topic)
        return []
    services.device_record_status(site=where[0], device_id=where[1], online=state == "online", at=timezone.now())
    return []


def handle_statuses(items: list[tuple[str, dict]]) -> list[Publish]:
    """The bridge's batch form of :func:`handle_status`: a round's online/offline messages in three statements."""
    statuses = []
    for topic, payload in items:
        where = _device_topic(topic, "status")
        state = payload.get("status")
        if where is None or state not in ("online", "offline"):
            logger.warning("dropping malformed status on %s", topic)
            continue
        statuses.append((where[0], where[1], state == "online"))
    if statuses:
        services.devices_record_status(statuses=statuses, at=timezone.now())
    return []


def handle_telemetry(topic: str, payload: dict) -> list[Publish]:
    where = _device_topic(topic, "telemetry")
    if where is None:
        return []
    services.device_record_telemetry(site=where[0], device_id=where[1], payload=payload, at=timezone.now())
    return []


def on_desired_sent(messages, at) -> None:
    """The outbox's sent hook: desired documents the broker acknowledged move their commands to ``sent``."""
    cmd_ids = [m.payload.get("cmd_id") for m in messages if isinstance(m.payload, dict) and m.payload.get("cmd_id")]
    services.commands_mark_sent(cmd_ids=cmd_ids, at=at)


ROUTES = {
    topics.topic_filter("ack"): handle_ack,
    topics.topic_filter("reported"): handle_reported,
    topics.topic_filter("status"): handle_status,
    topics.topic_filter("telemetry"): handle_telemetry,
}
BATCH_ROUTES = {
    topics.topic_filter("ack"): handle_acks,
    topics.topic_filter("reported"): handle_reports,
    topics.topic_filter("status"): handle_statuses,
}
# Full-state leaves: in a bridge batch only the last message of a device's topic is handled (last wins). Acks are
# never coalesced: each answers its own command.
COALESCED = {topics.topic_filter("reported"), topics.topic_filter("status"), topics.topic_filter("telemetry")}
