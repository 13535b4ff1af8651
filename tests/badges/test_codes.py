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


def _accepted(offset_steps: int, *, at: datetime) -> codes.CodeCheck:
    return codes.check_mac(SECRET, codes.mac_for(SECRET, codes.step_at(at) + offset_steps), at=at)


def test_mid_step_only_the_current_code_is_accepted():
    middle = T0 + timedelta(seconds=15)
    assert _accepted(0, at=middle).valid and _accepted(0, at=middle).step == codes.step_at(middle)
    for offset in (-2, -1, 1, 2, 5):
        assert not _accepted(offset, at=middle).valid, offset


def test_the_previous_code_is_accepted_only_within_the_grace_after_the_step_changed(settings):
    settings.BADGE_CODE_GRACE_SECONDS = 5
    assert codes.step_at(T0) * codes.STEP_SECONDS == T0.timestamp()  # T0 is a step boundary
    for seconds in (0, 2.5, 4.999):
        check = _accepted(-1, at=T0 + timedelta(seconds=seconds))
        assert check.valid and check.step == codes.step_at(T0) - 1, seconds
    for seconds in (5, 6, 20, 29.9):
        check = _accepted(-1, at=T0 + timedelta(seconds=seconds))
        assert not check.valid and check.stale, seconds  # a genuine code, too old: "expired"


def test_the_next_code_is_accepted_only_within_the_grace_before_its_step(settings):
    settings.BADGE_CODE_GRACE_SECONDS = 5
    for seconds in (25, 27, 29.999):
        assert _accepted(1, at=T0 + timedelta(seconds=seconds)).valid, seconds
    for seconds in (0, 10, 24.9):
        check = _accepted(1, at=T0 + timedelta(seconds=seconds))
        assert not check.valid and not check.stale, seconds  # from the future: "unknown"


def test_the_grace_is_a_setting_and_zero_means_the_current_step_only(settings):
    settings.BADGE_CODE_GRACE_SECONDS = 0
    assert list(codes.acceptable_steps(T0)) == [codes.step_at(T0)]
    assert list(codes.acceptable_steps(T0 + timedelta(seconds=29.5))) == [codes.step_at(T0)]
    settings.BADGE_CODE_GRACE_SECONDS = 10
    assert list(codes.acceptable_steps(T0 + timedelta(seconds=9))) == [codes.step_at(T0) - 1, codes.step_at(T0)]
    assert list(codes.acceptable_steps(T0 + timedelta(seconds=21))) == [codes.step_at(T0), codes.step_at(T0) + 1]


def test_a_code_lives_at_most_a_step_and_two_graces(settings):
    settings.BADGE_CODE_GRACE_SECONDS = 5
    mac = codes.mac_for(SECRET, codes.step_at(T0))
    accepted = [
        tenth / 10
        for tenth in range(-100, 500)
        if codes.check_mac(SECRET, mac, at=T0 + timedelta(seconds=tenth / 10)).valid
    ]
    assert (min(accepted), max(accepted)) == (-5.0, 34.9)


def test_an_old_genuine_code_is_stale_and_a_forged_one_is_not():
    middle = T0 + timedelta(seconds=15)
    stale = _accepted(-3, at=middle)
    assert not stale.valid and stale.stale
    forged = codes.check_mac(SECRET, "a" * codes.MAC_LENGTH, at=middle)
    assert not forged.valid and not forged.stale
    ancient = _accepted(-(codes.STALE_LOOKBACK_STEPS + 1), at=middle)
    assert not ancient.valid and not ancient.stale


def test_a_page_fetches_the_next_code_right_when_the_step_changes():
    assert codes.ms_left_in_step(T0) == 30_000
    assert codes.ms_left_in_step(T0 + timedelta(seconds=29, microseconds=999_500)) == 1
    assert codes.ms_left_in_step(T0 + timedelta(seconds=12.25)) == 17_750


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
