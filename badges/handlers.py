"""MQTT reader handler: ``handle_scan(topic, payload)``, routed by labs.mqtt_router from BadgesConfig.ready().

A reader publishes a scan on ``labs/v1/{site}/reader/{id}/scan``; the broker's ACL lets only the identity ``{id}``
publish there, so the topic names the reader. The handler calls the same service as ``POST /api/v1/access/check/``
and returns the decision to publish on ``labs/v1/{site}/reader/{id}/decision`` (docs/mqtt-schemas/scan.json and
decision.json). A malformed scan is logged and dropped, as the HTTP path answers it 400: it is not a decision.
"""

from __future__ import annotations

import logging
import re

from badges import selectors, services
from badges.choices import Channel, CredentialType
from labs import topics
from labs.topics import Publish

logger = logging.getLogger(__name__)

SCAN_TOPIC_FILTER = topics.topic_filter("scan", kind="reader")
_SCAN_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}", re.ASCII)
MAX_VALUE_LENGTH = 512


def decision_topic(site: str, reader: str) -> str:
    return topics.topic(site, "reader", reader, "decision")


def scan_topic(site: str, reader: str) -> str:
    return topics.topic(site, "reader", reader, "scan")


def _credential(payload: dict) -> tuple[str, str] | None:
    credential = payload.get("credential")
    if not isinstance(credential, dict):
        return None
    kind, value = credential.get("type"), credential.get("value")
    if kind not in CredentialType.values or not isinstance(value, str):
        return None
    if not value or len(value) > MAX_VALUE_LENGTH or "\x00" in value:
        return None
    return kind, value


def handle_scan(topic: str, payload: dict) -> list[Publish]:
    parsed = topics.parse(topic)
    if parsed is None or parsed.kind != "reader" or parsed.leaf != "scan":
        return []
    site_slug, reader_slug = parsed.site, parsed.device_id
    scan_id = payload.get("scan_id")
    credential = _credential(payload)
    if not (isinstance(scan_id, str) and _SCAN_ID.fullmatch(scan_id)) or credential is None:
        logger.warning("dropping malformed scan on %s", topic)
        return []
    reader = selectors.reader_for_topic(site_slug=site_slug, reader_slug=reader_slug)
    decision = services.access_decide(
        reader=reader,
        reader_ref=reader_slug,
        credential_type=credential[0],
        value=credential[1],
        channel=Channel.MQTT,
        scan_id=scan_id,
    )
    payload_out = {"scan_id": scan_id, "allow": decision.allow, "reason": decision.reason, "ttl_s": decision.ttl_s}
    return [Publish(decision_topic(site_slug, reader_slug), payload_out, qos=1, retain=False)]
