"""labs.crypto: secrets the project must read back are encrypted at rest with Fernet keys from the environment."""

from __future__ import annotations

import pytest

from labs import crypto


def test_a_value_comes_back_as_it_went_in_and_is_not_readable_at_rest():
    token = crypto.encrypt_json({"client_secret": "s3cret", "n": 1})

    assert "s3cret" not in token
    assert crypto.decrypt_json(token) == {"client_secret": "s3cret", "n": 1}


def test_a_value_from_another_key_or_tampered_is_refused(settings):
    token = crypto.encrypt("hello")
    settings.LABS_ENCRYPTION_KEYS = [crypto.generate_key()]

    with pytest.raises(crypto.Undecryptable):
        crypto.decrypt(token)
    with pytest.raises(crypto.Undecryptable):
        crypto.decrypt(token[:-4] + "AAAA")


def test_keys_rotate_new_first_old_still_read(settings):
    old = crypto.generate_key()
    settings.LABS_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("kept")

    new = crypto.generate_key()
    settings.LABS_ENCRYPTION_KEYS = [new, old]
    rotated = crypto.rotate(token)
    settings.LABS_ENCRYPTION_KEYS = [new]

    assert crypto.decrypt(rotated) == "kept"
    with pytest.raises(crypto.Undecryptable):
        crypto.decrypt(token)
