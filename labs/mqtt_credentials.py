"""MQTT credentials of devices and badge readers: issued and rotated by the backend, stored hashed, enforced by the
broker (MQTT.md "Identity, limits, scale").

* A device's username is its id (a reader's, its slug), which is also its client id and the ``{id}`` of its topics.
  :func:`mqtt_credential_issue` makes a fresh random password, stores its hash and puts it in force at the broker
  before anyone sees it: Mosquitto's dynamic-security plugin gets the client and its role at once (labs/mqtt_dynsec.py),
  and the embedded amqtt broker reads the hash at the next connect (labs/mqtt_broker_auth.py). Issuing again rotates:
  the old password stops working at once (Mosquitto kicks the connected client; the embedded broker ends the
  connection within ``CREDENTIAL_CHECK_S`` and refuses its next connect).
* The password is 32 random bytes (256 bits), shown once. Such a secret needs no slow key-derivation function: a slow
  hash protects guessable human passwords, and here it would only cost the broker CPU on every connect (thousands of
  devices reconnect together after a broker restart). :class:`DeviceSecretHasher` is a salted SHA-256 in Django's
  hasher interface, compared in constant time; it is deliberately not in PASSWORD_HASHERS, so no person's password can
  ever be stored with it.
* Comfort devices (``POST /api/v1/devices/{id}/credentials/``) and badge readers (their admin action) call the same
  service; the simulators of ``make run`` are provisioned through it too.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from labs import mqtt_dynsec, topics
from labs.errors import Conflict, DomainError, Invalid
from labs.models import MqttCredential

logger = logging.getLogger(__name__)

SECRET_BYTES = 32


class BrokerUnavailable(DomainError):
    status_code = 503
    code = "broker_unavailable"
    default_detail = "The MQTT broker could not put the new credentials in force; nothing was changed. Try again."


class DeviceSecretHasher(BasePasswordHasher):
    """Salted SHA-256 for machine-generated 256-bit secrets (see the module's docstring for why not PBKDF2)."""

    algorithm = "labs_sha256"

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        try:
            decoded = self.decode(encoded)
        except ValueError:
            return False
        if decoded["algorithm"] != self.algorithm:
            return False
        return constant_time_compare(self.encode(password, decoded["salt"]), encoded)

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": decoded["salt"][:4] + "…", "hash": decoded["hash"][:6] + "…"}

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


HASHER = DeviceSecretHasher()


@dataclass(frozen=True)
class IssuedCredential:
    """What the caller shows once: the username and the plain password. Only the hash is stored."""

    username: str
    password: str


def _identity(username: str, site: str, kind: str) -> topics.Identity:
    if kind not in topics.KINDS:
        raise Invalid(f"Unknown MQTT identity kind {kind!r}.")
    if not topics.is_segment(username) or not topics.is_segment(site):
        raise Invalid("A device id and a site slug may hold only letters, digits, '.', '_', ':' and '-'.")
    return topics.Identity(site=site, kind=kind, device_id=username)


def _refuse_other_kind(username: str, existing_kind: str | None, kind: str) -> None:
    """A username is a device's or a reader's, never both (their topics and roles differ)."""
    if existing_kind is not None and (existing_kind == "reader") != (kind == "reader"):
        raise Conflict(f"The MQTT username {username!r} already belongs to a {existing_kind}.")


@transaction.atomic
def mqtt_credential_issue(
    *, username: str, site: str, kind: str, at: datetime | None = None, broker_url: str | None = None
) -> IssuedCredential:
    """Issue (or rotate) the MQTT password of one device or reader and put it in force at the broker.

    The broker is told while the row is locked and before the commit: if it cannot be told, the transaction rolls back
    and the old password stays in force everywhere (a 503 ``broker_unavailable``). Raises Conflict when the username
    already belongs to an identity of another kind (a reader and a device with the same id). ``broker_url``: the
    Mosquitto to provision (default: MQTT_URL)."""
    identity = _identity(username, site, kind)
    credential = MqttCredential.objects.select_for_update().filter(username=username).first()
    _refuse_other_kind(username, credential.kind if credential else None, kind)
    credential = credential or MqttCredential(username=username)
    password = secrets.token_urlsafe(SECRET_BYTES)
    credential.site, credential.kind = site, kind
    credential.secret_hash = HASHER.encode(password, HASHER.salt())
    credential.issued_at = at or timezone.now()
    credential.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:
        raise Conflict("These credentials were issued at the same moment by someone else; try again.") from None
    if settings.MQTT_DYNSEC:
        try:
            mqtt_dynsec.provision(identity, password, url=broker_url)
        except mqtt_dynsec.DynsecError as exc:
            logger.warning("could not provision MQTT identity %s at the broker: %s", username, exc)
            raise BrokerUnavailable() from exc
    logger.debug("issued MQTT credentials for %s %s at %s", kind, username, site)
    return IssuedCredential(username=username, password=password)


@transaction.atomic
def mqtt_credentials_issue_offline(*, identities: list[tuple[str, str, str]], dynsec_file) -> list[IssuedCredential]:
    """Issue (or rotate) many identities at once, ``(username, site, kind)`` each, for a **stopped** Mosquitto: the
    hashes are stored here and the identities written into the broker's dynamic-security file, read when it starts
    (labs/mqtt_dynsec.py ``write_offline``: issuing thousands through the running broker costs O(N²)). Returns the
    passwords, shown once. Raises Conflict when a username belongs to an identity of the other kind."""
    wanted = [_identity(username, site, kind) for username, site, kind in identities]
    names = [identity.device_id for identity in wanted]
    existing = dict(
        MqttCredential.objects.select_for_update().filter(username__in=names).values_list("username", "kind")
    )
    for identity in wanted:
        _refuse_other_kind(identity.device_id, existing.get(identity.device_id), identity.kind)
    now = timezone.now()
    issued = [(identity, secrets.token_urlsafe(SECRET_BYTES)) for identity in wanted]
    rows = [
        MqttCredential(
            username=identity.device_id,
            site=identity.site,
            kind=identity.kind,
            secret_hash=HASHER.encode(password, HASHER.salt()),
            issued_at=now,
        )
        for identity, password in issued
    ]
    for row in rows:  # as mqtt_credential_issue checks its one row
        row.full_clean(validate_unique=False)
    MqttCredential.objects.filter(username__in=names).delete()  # rotated: the old rows go
    MqttCredential.objects.bulk_create(rows, batch_size=2000)
    mqtt_dynsec.write_offline(dynsec_file, issued)
    return [IssuedCredential(username=identity.device_id, password=password) for identity, password in issued]


@transaction.atomic
def mqtt_credential_revoke(*, username: str) -> bool:
    """End an identity's access: its row goes, and Mosquitto deletes the client (kicking its connection)."""
    deleted, _ = MqttCredential.objects.filter(username=username).delete()
    if settings.MQTT_DYNSEC:
        try:
            mqtt_dynsec.revoke(username)
        except mqtt_dynsec.DynsecError as exc:
            raise BrokerUnavailable("The MQTT broker could not revoke the credentials; nothing was changed.") from exc
    return bool(deleted)


def mqtt_credential_authenticate(*, username: str | None, password: str | None) -> topics.Identity | None:
    """The identity whose issued password this is, or None (the embedded broker's check at every connect)."""
    return mqtt_credential_check(username=username, password=password)[0]


def mqtt_credential_check(*, username: str | None, password: str | None) -> tuple[topics.Identity | None, str]:
    """:func:`mqtt_credential_authenticate`, with the stored hash the password was checked against ("" if none):
    the embedded broker keeps it to notice a rotation or revocation while the device stays connected."""
    if not username or not password:
        return None, ""
    row = MqttCredential.objects.filter(username=username).values("site", "kind", "secret_hash").first()
    if row is None:
        HASHER.encode(password, HASHER.salt())  # the same work either way: no timing hint that the username exists
        return None, ""
    if not HASHER.verify(password, row["secret_hash"]):
        return None, ""
    return topics.Identity(site=row["site"], kind=row["kind"], device_id=username), row["secret_hash"]


def mqtt_credential_secrets(*, usernames: list[str]) -> dict[str, str]:
    """The stored hash of each identity's password now (the embedded broker compares it with the one a connected
    device signed in with: a different or missing one means rotated or revoked)."""
    return dict(MqttCredential.objects.filter(username__in=usernames).values_list("username", "secret_hash"))


@dataclass
class DropTally:
    count: int
    reason: str
    at: datetime


def mqtt_credentials_record_drops(*, drops: dict[str, DropTally]) -> int:
    """Add the dropped-message counts the bridge gathered (one UPDATE per identity, however big the flood)."""
    updated = 0
    for username, tally in drops.items():
        updated += MqttCredential.objects.filter(username=username).update(
            dropped_messages=F("dropped_messages") + tally.count,
            last_drop_reason=tally.reason[:160],
            last_dropped_at=tally.at,
        )
    return updated
