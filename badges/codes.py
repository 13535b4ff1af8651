"""The credentials' cryptography, with no database: rotating QR codes, card UID digests, reader keys.

A digital badge holds a 32-byte secret from :mod:`secrets`. Its QR code is ``<public id>.<mac>``: the public id is a
random 12-character base32 handle (no personal data), the mac the first 80 bits of HMAC-SHA256(secret, step) in
base32, where ``step`` counts 30-second periods since the Unix epoch (TOTP-style). A reader accepts the codes of the
current step and of one step either side; the decision service records (badge, reader, step) so a code opens a reader
once. Nothing in a code identifies the person: without the database it is 28 random-looking characters.

A card UID is stored only as a keyed digest (HMAC-SHA256 with ``BADGE_CARD_UID_KEY``, by default derived from
``SECRET_KEY``), which is what a scan is looked up by: a leaked table does not give the UIDs to clone. Reader API
keys are stored as SHA-256 digests of 256-bit random keys and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

STEP_SECONDS = 30
TOLERANCE_STEPS = 1  # one step either side of the current one
# A well-formed code with a good mac from further back than the tolerance (up to this many steps) is "expired":
# an old screenshot; anything else is "unknown".
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
    valid: bool  # the mac matches a step within the tolerance
    step: int | None  # that step (valid), or the older step it matched (stale)
    stale: bool = False  # a genuine code, but older than the tolerance


def check_mac(secret: bytes, mac: str, *, now_step: int) -> CodeCheck:
    """Compare ``mac`` with every acceptable step in constant time per comparison."""
    for step in range(now_step - TOLERANCE_STEPS, now_step + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(mac_for(secret, step), mac):
            return CodeCheck(valid=True, step=step)
    for step in range(now_step - TOLERANCE_STEPS - 1, now_step - STALE_LOOKBACK_STEPS - 1, -1):
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
