"""The credentials' cryptography: rotating codes, card UID digests, reader keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from badges import codes

SECRET = bytes(range(32))
T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def test_a_code_is_a_public_id_and_a_mac_and_nothing_else():
    code = codes.code_for("abcdefghijkl", SECRET, codes.step_at(T0))
    assert re.fullmatch(r"[a-z2-7]{12}\.[a-z2-7]{16}", code)
    assert codes.parse_code(code) == codes.ParsedCode("abcdefghijkl", code.split(".")[1])


def test_the_code_changes_every_30_seconds():
    step = codes.step_at(T0)
    assert codes.step_at(T0 + timedelta(seconds=29)) == step
    assert codes.step_at(T0 + timedelta(seconds=30)) == step + 1
    assert codes.mac_for(SECRET, step) != codes.mac_for(SECRET, step + 1)


def test_it_accepts_one_step_either_side_and_no_more():
    now = codes.step_at(T0)
    for offset in (-1, 0, 1):
        check = codes.check_mac(SECRET, codes.mac_for(SECRET, now + offset), now_step=now)
        assert check.valid and check.step == now + offset
    for offset in (-2, 2, 5):
        assert not codes.check_mac(SECRET, codes.mac_for(SECRET, now + offset), now_step=now).valid


def test_an_old_genuine_code_is_stale_and_a_forged_one_is_not():
    now = codes.step_at(T0)
    stale = codes.check_mac(SECRET, codes.mac_for(SECRET, now - 3), now_step=now)
    assert not stale.valid and stale.stale
    forged = codes.check_mac(SECRET, "a" * codes.MAC_LENGTH, now_step=now)
    assert not forged.valid and not forged.stale


def test_another_secret_gives_another_code():
    other = bytes(32)
    step = codes.step_at(T0)
    assert codes.mac_for(SECRET, step) != codes.mac_for(other, step)


def test_it_refuses_anything_not_shaped_like_a_code():
    for value in ["", "abc", "abcdefghijkl", "ABCDEFGHIJKL.ABCDEFGHIJKLMNOP", "abcdefghijkl.abcdefghijklmno1",
                  "abcdefghijkl.abcdefghijklmnop\n", " abcdefghijkl.abcdefghijklmnop", "abcdefghijklabcdefghijklmnop",
                  "abcdefghijkl.abcdefghijklmnoé", None, 12, ["x"]]:  # fmt: skip
        assert codes.parse_code(value) is None, value


def test_card_uids_are_normalised_and_validated():
    assert codes.normalise_card_uid("04:a2:2b:1c") == "04A22B1C"
    assert codes.normalise_card_uid("04-A2-2B-1C-00-11-22") == "04A22B1C001122"
    assert codes.normalise_card_uid(" 04a22b1c ") == "04A22B1C"
    for bad in ["", "04a22b", "04a22b1", "zz112233", "04a22b1c" * 5, None, 42]:
        assert codes.normalise_card_uid(bad) is None, bad


def test_a_card_is_stored_as_a_keyed_digest_not_its_uid(settings):
    digest = codes.card_uid_digest("04A22B1C")
    assert "04A22B1C" not in digest and len(digest) == 64
    settings.BADGE_CARD_UID_KEY = "another key"
    assert codes.card_uid_digest("04A22B1C") != digest


def test_reader_keys_match_only_their_digest():
    key = codes.new_reader_key()
    digest = codes.reader_key_digest(key)
    assert codes.reader_key_matches(digest, key)
    assert not codes.reader_key_matches(digest, key + "x")
    assert not codes.reader_key_matches(None, key)
    assert not codes.reader_key_matches("", "")
