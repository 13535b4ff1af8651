"""The MQTT topic vocabulary of contract v1 (docs/mqtt.md), in one place: the root, the kinds and leaves, how a
topic is formatted and parsed, how filters match, and the message the backend publishes (:class:`Publish`).

Every app, the bridge, the outbox, the simulators and the broker's ACL generator build and read topics here, so the
tree cannot drift between them::

    labs/v1/{site}/{kind}/{id}/{leaf}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

ROOT = "labs/v1"
DEVICE_KINDS = ("desk", "hvac", "fan")
KINDS = (*DEVICE_KINDS, "reader")

# Who publishes which leaf (MQTT.md "Topics").
BACKEND_LEAVES = ("desired", "decision")
DEVICE_LEAVES = ("ack", "reported", "telemetry", "status")
READER_LEAVES = ("scan", "status")
LEAVES = ("desired", "ack", "reported", "telemetry", "status", "scan", "decision")

# The consumer group of the backend's bridges: MQTT 5 shared subscriptions ($share/labs/...) split device messages
# between them so that each message is handled by exactly one bridge.
SHARE_GROUP = "labs"

# A site slug or device id as it may appear in a topic: no wildcards, no separators, no control characters.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}", re.ASCII)


@dataclass(frozen=True)
class DeviceTopic:
    """A parsed ``labs/v1/{site}/{kind}/{id}/{leaf}``."""

    site: str
    kind: str
    device_id: str
    leaf: str

    def __str__(self) -> str:
        return topic(self.site, self.kind, self.device_id, self.leaf)


@dataclass(frozen=True)
class Publish:
    """One message the backend publishes: a handler's reply (sent at once) or an outbox row (sent after commit)."""

    topic: str
    payload: dict
    qos: int = 1
    retain: bool = False

    def encoded(self) -> bytes:
        return encode(self.payload)


def encode(payload) -> bytes:
    """The wire form of a payload: compact JSON, UTF-8. Bytes pass through."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def publish_leaves(kind: str) -> tuple[str, ...]:
    """The leaves a device of ``kind`` publishes (a reader: ``scan`` and ``status``)."""
    return READER_LEAVES if kind == "reader" else DEVICE_LEAVES


def is_segment(value: str) -> bool:
    """Whether ``value`` may stand as a site slug or device id in a topic."""
    return isinstance(value, str) and _SEGMENT.fullmatch(value) is not None


def topic(site: str, kind: str, device_id: str, leaf: str) -> str:
    return f"{ROOT}/{site}/{kind}/{device_id}/{leaf}"


def topic_filter(leaf: str = "+", *, site: str = "+", kind: str = "+", device_id: str = "+") -> str:
    return f"{ROOT}/{site}/{kind}/{device_id}/{leaf}"


def shared(topic_filter_: str, *, group: str = SHARE_GROUP) -> str:
    """The MQTT 5 shared subscription of a filter: ``$share/{group}/{filter}``."""
    return f"$share/{group}/{topic_filter_}"


def unshared(subscription: str) -> str:
    """The plain filter of a subscription (``$share/g/a/b`` -> ``a/b``)."""
    if subscription.startswith("$share/"):
        return subscription.split("/", 2)[2]
    return subscription


def parse(value: str) -> DeviceTopic | None:
    """``labs/v1/{site}/{kind}/{id}/{leaf}`` -> :class:`DeviceTopic`, or None for anything else (other roots, unknown
    kinds or leaves, empty or wildcard segments)."""
    if not isinstance(value, str):
        return None
    return _parse(value)


@lru_cache(maxsize=65_536)
def _parse(value: str) -> DeviceTopic | None:
    """:func:`parse` of a string, kept: the bridge parses each message's topic in its check, its batch's lock hook and
    its handler, and a site's devices send the same topics again and again (``DeviceTopic`` is immutable)."""
    parts = value.split("/")
    if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != ROOT:
        return None
    _, _, site, kind, device_id, leaf = parts
    if kind not in KINDS or leaf not in LEAVES or not is_segment(site) or not is_segment(device_id):
        return None
    return DeviceTopic(site=site, kind=kind, device_id=device_id, leaf=leaf)


def matches(topic_filter_: str, value: str) -> bool:
    """Whether ``value`` matches an MQTT filter with ``+`` and ``#`` wildcards (a ``$share/`` prefix is ignored)."""
    return parts_match(filter_parts(topic_filter_), value.split("/"))


@lru_cache(maxsize=1024)
def filter_parts(topic_filter_: str) -> tuple[str, ...]:
    """The levels of a filter, without its ``$share/`` prefix (split once per filter)."""
    return tuple(unshared(topic_filter_).split("/"))


def parts_match(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """:func:`matches` on split forms: a router splits a topic once for all its filters."""
    for index, part in enumerate(filter_levels):
        if part == "#":
            return True
        if index >= len(topic_levels):
            return False
        if part != "+" and part != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


# --- identities (MQTT.md "Identity, limits, scale") ----------------------------------------------------------------
# The one rule of who may do what, read by the embedded broker's topic check (labs/mqtt_broker_auth.py) and turned
# into Mosquitto dynamic-security roles (labs/mqtt_dynsec.py), so both brokers enforce the same thing.


@dataclass(frozen=True)
class Identity:
    """A device's or reader's MQTT identity: username = client id = its id. It may publish only to its own device
    leaves (readers: ``scan`` and ``status``) and subscribe to, and receive, only its own ``desired`` (readers:
    ``decision``); ``desired`` and ``decision`` of anyone are the backend's alone."""

    site: str
    kind: str
    device_id: str

    @property
    def publish_leaves(self) -> tuple[str, ...]:
        return publish_leaves(self.kind)

    @property
    def subscribe_leaf(self) -> str:
        return "decision" if self.kind == "reader" else "desired"

    def publish_topics(self) -> list[str]:
        return [topic(self.site, self.kind, self.device_id, leaf) for leaf in self.publish_leaves]

    def subscribe_topics(self) -> list[str]:
        return [topic(self.site, self.kind, self.device_id, self.subscribe_leaf)]

    def may_publish(self, value: str) -> bool:
        """Exact topics only: a wildcard or another device's topic is refused."""
        return value in self.publish_topics()

    def may_subscribe(self, value: str) -> bool:
        return value in self.subscribe_topics()
