"""Encryption at rest for secrets the project must be able to read back (calendar credentials, OAuth refresh tokens).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) with the keys of ``LABS_ENCRYPTION_KEY``
(``settings.LABS_ENCRYPTION_KEYS``, comma-separated): the first encrypts, every one decrypts, so a key is rotated by
putting the new one first, running :func:`rotate` over the stored values, then dropping the old key. In production
the variable is required (settings stop start-up without it); in development the key is derived from
``DJANGO_SECRET_KEY`` so a fresh checkout runs without setup.

A ciphertext is a string (URL-safe base64), stored in a plain ``TextField``. A value that cannot be decrypted (wrong
key, tampered) raises :class:`Undecryptable`, never returns garbage.
"""

from __future__ import annotations

import functools
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class Undecryptable(Exception):
    """The value was not encrypted with any configured key, or was altered."""


def generate_key() -> str:
    """A fresh random key for LABS_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.LABS_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, *, ttl: int | None = None) -> str:
    """The plaintext; with ``ttl``, only if it was encrypted at most that many seconds ago (Fernet's timestamp)."""
    try:
        return _current().decrypt(ciphertext.encode(), ttl=ttl).decode()
    except (InvalidToken, ValueError):
        raise Undecryptable("The value cannot be decrypted with the configured LABS_ENCRYPTION_KEYS.") from None


def encrypt_json(value) -> str:
    return encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))


def decrypt_json(ciphertext: str, *, ttl: int | None = None):
    return json.loads(decrypt(ciphertext, ttl=ttl))


def rotate(ciphertext: str) -> str:
    """The same value encrypted with the first (current) key."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise Undecryptable("The value cannot be decrypted with the configured LABS_ENCRYPTION_KEYS.") from None
