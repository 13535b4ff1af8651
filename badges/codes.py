"""The credentials' cryptography, with no database: rotating QR codes, card UID digests, reader keys.

A digital badge holds a 32-byte secret from :mod:`secrets`. Its QR code is ``<public id>.<mac>``: the public id is a
random 12-character base32 handle (no personal data), the mac the first 80 bits of HMAC-SHA256(secret, step) in
base32, where ``step`` counts 30-second periods since the Unix epoch (TOTP-style). A reader accepts the code of the
current step; the previous step's only for a short grace after the step changed (a phone fetching its new code) and
the next step's only for that grace before it starts (clocks of two servers a little apart):
``BADGE_CODE_GRACE_SECONDS``, 5 s by default. So a code lives at most 30 s plus twice the grace, and a photo of it
is worth the rest of its step. The decision service records (badge, reader, step) so a code opens a reader once.
Nothing in a code identifies the person: without the database it is 28 random-looking characters. The threat model
is in docs/badges.md.

A card UID is stored only as a keyed digest (HMAC-SHA256 with ``BADGE_CARD_UID_KEY``, by default derived from
``SECRET_KEY``), which is what a scan is looked up by: a leaked table does not give the UIDs to clone. Reader API
keys are stored as SHA-256 digests of 256-bit random keys and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

STEP_SECONDS = 30
# How long after a step ends its code is still accepted, and how long before a step starts its code already is
# (settings.BADGE_CODE_GRACE_SECONDS overrides it; at most half a step).
DEFAULT_GRACE_SECONDS = 5
# A well-formed code with a good mac from further back than that (up to this many steps) is "expired": an old
# screenshot; anything else is "unknown".
STALE_LOOKBACK_STEPS = 20

PUBLIC_ID_LENGTH = 12  # base32 characters: 60 bits
MAC_LENGTH = 16  # base32 characters: 80 bits
_B32 = "a-z2-7"
CODE_PATTERN = re.compile(rf"([{_B32}]{{{PUBLIC_ID_LENGTH}}})\.([{_B32}]{{{MAC_LENGTH}}})", re.ASCII)
PUBLIC_ID_PATTERN = re.compile(rf"[{_B32}]{{{PUBLIC_ID_LENGTH}}}", re.ASCII)

CARD_UID_PATTERN = re.compile(r"[0-9A-F]{8,32}", re.ASCII)  # 4 to 16 bytes: covers 4/7/10-byte ISO 14443 UIDs
_CARD_SEPARATORS = re.compile(r"[\s:\-]", re.ASCII)

_MAC_DOMAIN = b"labs-badge-qr-v1"


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def new_public_id() -> str:
    return _b32(secrets.token_bytes(10))[:PUBLIC_ID_LENGTH]


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def seconds_left_in_step(moment: datetime) -> int:
    return STEP_SECONDS - int(moment.timestamp()) % STEP_SECONDS


def ms_left_in_step(moment: datetime) -> int:
    """Milliseconds until the next step starts (at least 1): when a page showing the code should fetch the next one."""
    return max(1, math.ceil((STEP_SECONDS - moment.timestamp() % STEP_SECONDS) * 1000))


def grace_seconds() -> float:
    grace = getattr(settings, "BADGE_CODE_GRACE_SECONDS", DEFAULT_GRACE_SECONDS)
    return min(max(float(grace), 0.0), STEP_SECONDS / 2)


def acceptable_steps(moment: datetime) -> range:
    """The steps whose codes a reader accepts at ``moment``: the current one; the previous one within the grace after
    the step changed; the next one within the grace before it starts."""
    grace = grace_seconds()
    into = moment.timestamp() % STEP_SECONDS
    step = step_at(moment)
    first = step - 1 if into < grace else step
    last = step + 1 if STEP_SECONDS - into <= grace else step
    return range(first, last + 1)


def mac_for(secret: bytes, step: int) -> str:
    digest = hmac.new(bytes(secret), _MAC_DOMAIN + step.to_bytes(8, "big", signed=True), hashlib.sha256).digest()
    return _b32(digest[:10])  # 80 bits -> exactly 16 base32 characters


def code_for(public_id: str, secret: bytes, step: int) -> str:
    return f"{public_id}.{mac_for(secret, step)}"


@dataclass(frozen=True)
class ParsedCode:
    public_id: str
    mac: str


def parse_code(value) -> ParsedCode | None:
    """Split a presented QR value; None unless it has exactly the shape of a code (anything else is unknown)."""
    if not isinstance(value, str) or len(value) != PUBLIC_ID_LENGTH + 1 + MAC_LENGTH:
        return None
    match = CODE_PATTERN.fullmatch(value)
    if match is None:
        return None
    return ParsedCode(public_id=match.group(1), mac=match.group(2))


@dataclass(frozen=True)
class CodeCheck:
    valid: bool  # the mac matches an acceptable step
    step: int | None  # that step (valid), or the older step it matched (stale)
    stale: bool = False  # a genuine code, but older than the acceptable steps


def check_mac(secret: bytes, mac: str, *, at: datetime) -> CodeCheck:
    """Check ``mac`` against the steps acceptable at ``at`` (see :func:`acceptable_steps`), then against the recent
    past to tell an old genuine code ("expired") from anything else; each comparison in constant time."""
    steps = acceptable_steps(at)
    for step in steps:
        if hmac.compare_digest(mac_for(secret, step), mac):
            return CodeCheck(valid=True, step=step)
    for step in range(steps[0] - 1, step_at(at) - STALE_LOOKBACK_STEPS - 1, -1):
        if hmac.compare_digest(mac_for(secret, step), mac):
            return CodeCheck(valid=False, step=step, stale=True)
    return CodeCheck(valid=False, step=None)


# --- cards -----------------------------------------------------------------------------------------------------


def normalise_card_uid(value) -> str | None:
    """``04:a2:2b:1c`` / ``04-A2-2B-1C`` / ``04a22b1c`` -> ``04A22B1C``; None if it is not a hex UID of 4-16 bytes."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    uid = _CARD_SEPARATORS.sub("", value).upper()
    if len(uid) % 2 or not CARD_UID_PATTERN.fullmatch(uid):
        return None
    return uid


def _card_uid_key() -> bytes:
    configured = getattr(settings, "BADGE_CARD_UID_KEY", None)
    if configured:
        return configured.encode()
    return hashlib.sha256(b"labs.badges.card-uid:" + settings.SECRET_KEY.encode()).digest()


def card_uid_digest(uid: str) -> str:
    """The keyed digest a card is stored and looked up by (``uid`` already normalised)."""
    return hmac.new(_card_uid_key(), uid.encode("ascii"), hashlib.sha256).hexdigest()


# --- reader keys -----------------------------------------------------------------------------------------------


def new_reader_key() -> str:
    return secrets.token_urlsafe(32)


def reader_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


_DUMMY_DIGEST = reader_key_digest("no reader has this key")


def reader_key_matches(stored_digest: str | None, presented_key: str) -> bool:
    """Constant-time comparison of a presented key with a stored digest (a dummy one when there is no reader)."""
    return hmac.compare_digest(stored_digest or _DUMMY_DIGEST, reader_key_digest(presented_key)) and bool(stored_digest)
