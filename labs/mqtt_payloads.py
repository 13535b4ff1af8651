"""Every device -> backend message is checked here before any handler (and so the database) sees it.

:func:`check` takes a topic and the raw payload and returns the JSON object, or raises :class:`Dropped` with a short
reason. In order, cheapest first:

1. the topic is a device leaf of contract v1 (``labs/v1/{site}/{kind}/{id}/{ack|reported|telemetry|status|scan}``);
2. at most ``MQTT_PAYLOAD_MAX_BYTES`` (64 KiB, as Mosquitto's ``message_size_limit``), before anything is decoded;
3. strict UTF-8 and strict JSON: no NaN, Infinity or -Infinity, no duplicate keys (two parsers could read two
   different documents), no numbers that overflow a float to infinity;
4. a walk of the document: nesting at most ``MQTT_PAYLOAD_MAX_DEPTH``, integers within signed 64 bits, no NUL and no
   lone surrogate in any string or key (PostgreSQL cannot store either: they would fail in the database, mid-handler);
5. the leaf's JSON Schema from docs/mqtt-schemas/ (ranges, lengths, enums), compiled once with fastjsonschema:
   about 1.5 µs for an ack against about 35 µs for the reference ``jsonschema`` (measured here), because the bridge
   takes thousands of messages a second.

The router drops what fails: one WARNING line with the reason (at most ``LOG_BURST`` lines per ``LOG_WINDOW_S``, then
a count of the lines held back, so a flood cannot fill a disk), and a per-identity count, added to
``labs.MqttCredential.dropped_messages`` in one UPDATE per identity when the bridge flushes (:func:`flush_drops`).
Handlers then trust the shape they are given.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import fastjsonschema
from django.conf import settings
from django.utils import timezone

from labs import topics

logger = logging.getLogger(__name__)

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "mqtt-schemas"
DEVICE_TO_BACKEND = ("ack", "reported", "telemetry", "status", "scan")
INT64 = (-(2**63), 2**63 - 1)
LOG_BURST = 20
LOG_WINDOW_S = 60.0


class Dropped(Exception):  # noqa: N818 - the message was dropped; it is not an error of ours
    """A message that fails a check; ``reason`` is short and safe to log (no payload bytes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Oversize:
    """Stands in for a payload the bridge would not even hold in its queue: only its size is kept."""

    size: int


@cache
def validator(leaf: str):
    """The compiled JSON Schema of a leaf (local references only: a schema can never make the bridge fetch a URL)."""
    schema = json.loads((SCHEMAS / f"{leaf}.json").read_text())
    schema.pop("$id", None)  # a relative $id would send fastjsonschema's resolver looking for remote documents
    return fastjsonschema.compile(schema, handlers={})


def _refuse_constant(name: str):
    raise Dropped(f"json: {name} is not allowed")


def _no_duplicates(pairs: list) -> dict:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise Dropped("json: duplicate key")
    return document


# One decoder for every message: json.loads with hooks builds a new JSONDecoder (and its scanner) per call, about 1 %
# of the bridge's samples during a fan-out. A decoder keeps no state between calls, so the bridge's threads share it.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)


# What the walk refuses can only come, in a payload of bytes, from a text holding one of these: a NUL or a lone
# surrogate only from a backslash-u escape (raw control characters and invalid UTF-8 are refused before); an integer
# past 64 bits only from a run of 19 digits; a float that overflows to infinity only from such a run or from a number
# with a three-digit exponent (a mantissa under 19 digits needs 10^289 or more), a number starting after no letter,
# digit, dot, hyphen or quote (so the "8e123" in a UUID is not one); nesting deeper than N only from more than N
# brackets. A text with none of them (most device messages) would pass the walk, so it is not walked.
# One regular expression for all three took 4.5 us per 120-byte ack, more than parsing it: the digits are counted on
# the bytes with a C translate, and the exponent's full pattern runs only where a digit stands before an exponent of
# three digits.
_EXPONENT = re.compile(r'(?<![0-9A-Za-z.\-"])-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]{3}')
_EXPONENT_HINT = re.compile(r"[0-9][eE][+-]?[0-9]{3}")
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def _walk_needed(raw: bytes | bytearray, text: str) -> bool:
    """Whether ``text`` (the UTF-8 ``raw``) holds one of the things above, without which the walk cannot refuse it."""
    return (
        "\\u" in text
        or _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZEROS)
        or (_EXPONENT_HINT.search(text) is not None and _EXPONENT.search(text) is not None)
    )


def _walk(document, max_depth: int) -> None:
    """Depth, integer range, finite floats, and strings PostgreSQL can store; iterative (no recursion to exhaust)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise Dropped(f"nesting deeper than {max_depth}")
            for key, value in node.items():
                _check_string(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise Dropped(f"nesting deeper than {max_depth}")
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            _check_string(node)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if not INT64[0] <= node <= INT64[1]:
                raise Dropped("integer beyond 64 bits")
        elif isinstance(node, float) and not math.isfinite(node):
            raise Dropped("number overflows to infinity")


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise Dropped("NUL in a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Dropped("lone surrogate in a string") from None


def check(topic: str, raw: bytes | bytearray | str | dict | Oversize) -> dict:
    """The checked JSON object of a device message on ``topic``, or :class:`Dropped`."""
    parsed = topics.parse(topic)
    if parsed is None or parsed.leaf not in DEVICE_TO_BACKEND:
        raise Dropped("not a device topic of contract v1")
    if parsed.leaf not in topics.publish_leaves(parsed.kind):
        raise Dropped(f"a {parsed.kind} does not publish {parsed.leaf}")
    limit = settings.MQTT_PAYLOAD_MAX_BYTES
    if isinstance(raw, Oversize):
        raise Dropped(f"payload of {raw.size} bytes over {limit}")
    if isinstance(raw, dict):
        document = raw
    else:
        if len(raw) > limit:
            raise Dropped(f"payload of {len(raw)} bytes over {limit}")
        try:
            text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
            document = _DECODER.decode(text)
        except UnicodeDecodeError:
            raise Dropped("not UTF-8") from None
        except RecursionError:
            raise Dropped("nesting too deep to parse") from None
        except ValueError as exc:  # JSONDecodeError, and int() past Python's 4300-digit limit
            raise Dropped(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise Dropped("not a JSON object")
    max_depth = settings.MQTT_PAYLOAD_MAX_DEPTH
    if (
        not isinstance(raw, bytes | bytearray)
        or _walk_needed(raw, text)
        or text.count("{") + text.count("[") > max_depth
    ):
        _walk(document, max_depth)
    try:
        validator(parsed.leaf)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise Dropped(f"schema: {exc.message}"[:160]) from None
    return document


# --- what happens to a dropped message: a rate-limited log line and a per-identity count -------------------------
_lock = threading.Lock()
_pending: dict = {}
_log_window_start = 0.0
_logged_in_window = 0
_held_back = 0


def record_drop(topic: str, reason: str) -> None:
    """Log (rate-limited) and count one dropped message against the identity its topic names."""
    global _log_window_start, _logged_in_window, _held_back
    from labs.mqtt_credentials import DropTally

    parsed = topics.parse(topic)
    username = parsed.device_id if parsed else None
    now = time.monotonic()
    with _lock:
        if username is not None:
            tally = _pending.get(username)
            if tally is None:
                _pending[username] = DropTally(count=1, reason=reason, at=timezone.now())
            else:
                tally.count += 1
                tally.reason, tally.at = reason, timezone.now()
        if now - _log_window_start > LOG_WINDOW_S:
            if _held_back:
                logger.warning("%d more dropped MQTT messages were not logged in the last minute", _held_back)
            _log_window_start, _logged_in_window, _held_back = now, 0, 0
        if _logged_in_window < LOG_BURST:
            _logged_in_window += 1
            # the topic is echoed through repr, so a hostile topic cannot forge log lines
            logger.warning("dropped MQTT message on %r: %s", topic[:200], reason)
        else:
            _held_back += 1


def pending_drops() -> dict:
    with _lock:
        return {username: tally.count for username, tally in _pending.items()}


def flush_drops() -> int:
    """Write the counts gathered since the last flush (the bridge calls it after each batch)."""
    from labs.mqtt_credentials import mqtt_credentials_record_drops

    with _lock:
        if not _pending:
            return 0
        drops = dict(_pending)
        _pending.clear()
    try:
        return mqtt_credentials_record_drops(drops=drops)
    except Exception:
        logger.exception("could not record dropped-message counts; they are lost")
        return 0
