"""The one sign-in throttle (labs.services.sign_in_attempt) and the two factors every door checks through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import override_settings

from labs import services
from labs.errors import Conflict, Forbidden, Throttled, Unauthenticated
from labs.models import SignInCounter
from labs.second_factor import new_key
from tests.factories import AuthenticatorFactory
from tests.sign_in import totp_code

pytestmark = pytest.mark.django_db

IP = "192.0.2.10"
# The middle of a 15-minute window, so that no test straddles two windows.
NOON = datetime(2026, 3, 2, 12, 7, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # many guesses, each one hashed


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def failures(scope: str) -> int:
    return sum(SignInCounter.objects.filter(scope=scope).values_list("failures", flat=True))


def wrong_guess(username: str = "member", ip: str = IP) -> None:
    with pytest.raises(Unauthenticated):
        services.sign_in(username=username, password="wrong", ip=ip)


class TestTheThrottle:
    def test_the_defaults_are_five_per_pair_and_twenty_per_address(self):
        from django.conf import settings

        assert settings.SIGN_IN_MAX_FAILURES_PER_USER_IP == 5
        assert settings.SIGN_IN_MAX_FAILURES_PER_IP == 20

    def test_a_wrong_guess_is_counted_under_the_pair_and_the_address(self, member):
        wrong_guess()
        assert failures("user_ip") == 1
        assert failures("ip") == 1

    def test_a_right_guess_gives_its_slots_back(self, member, password):
        wrong_guess("someone-else")
        services.sign_in(username="member", password=password, ip=IP)
        assert failures("ip") == 1  # only the wrong guess is counted
        pair = SignInCounter.objects.filter(scope="user_ip", key_digest=services._digest("member", IP))
        assert not pair.filter(failures__gt=0).exists()

    def test_a_right_password_clears_the_pairs_failures_but_not_the_addresss(self, member, password):
        for _ in range(4):
            wrong_guess()
        services.sign_in(username="member", password=password, ip=IP)
        assert failures("user_ip") == 0
        assert failures("ip") == 4

    @override_settings(SIGN_IN_MAX_FAILURES_PER_USER_IP=3)
    def test_past_the_pairs_limit_the_check_is_never_run(self, member):
        checks = []
        for _ in range(3):
            services.sign_in_attempt(username="member", ip=IP, check=lambda: checks.append(1))
        with pytest.raises(Throttled):
            services.sign_in_attempt(username="member", ip=IP, check=lambda: checks.append(1) or True)
        assert len(checks) == 3
        assert failures("user_ip") == 3

    @override_settings(SIGN_IN_MAX_FAILURES_PER_IP=4)
    def test_an_address_guessing_many_usernames_is_locked_for_everyone(self, member, password):
        for n in range(4):
            wrong_guess(f"user{n}")
        with pytest.raises(Throttled):
            services.sign_in(username="member", password=password, ip=IP)
        assert services.sign_in(username="member", password=password, ip="192.0.2.99") == member.user

    def test_a_refused_guess_takes_no_slot(self, member, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_IP = 2
        wrong_guess("a")
        wrong_guess("b")
        for _ in range(3):
            with pytest.raises(Throttled):
                services.sign_in(username="c", password="x", ip=IP)
        assert failures("ip") == 2
        assert failures("user_ip") == 2  # the refused pair ("c") took its slot back

    def test_a_crash_in_the_check_counts_as_a_failure(self, member):
        def crash():
            raise RuntimeError("backend down")

        with pytest.raises(RuntimeError):
            services.sign_in_attempt(username="member", ip=IP, check=crash)
        assert failures("user_ip") == 1

    def test_the_count_starts_again_in_the_next_window(self, member, password, clock, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 2
        wrong_guess()
        wrong_guess()
        with pytest.raises(Throttled):
            services.sign_in(username="member", password=password, ip=IP)
        clock.shift(settings.SIGN_IN_WINDOW)
        assert services.sign_in(username="member", password=password, ip=IP) == member.user

    def test_usernames_are_counted_without_regard_to_case(self, member, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 2
        wrong_guess("member")
        wrong_guess("MEMBER")
        assert services.sign_in_is_locked(username="Member", ip=IP)

    def test_nothing_in_clear_is_stored(self, member):
        wrong_guess()
        for row in SignInCounter.objects.all():
            assert "member" not in row.key_digest and IP not in row.key_digest


class TestTheSecondFactor:
    def test_a_right_code_is_accepted_once(self, staff):
        device = AuthenticatorFactory(user=staff.user)
        code = totp_code(device)
        assert services.sign_in_second_factor(user=staff.user, code=code, ip=IP) == device
        with pytest.raises(Unauthenticated) as reused:
            services.sign_in_second_factor(user=staff.user, code=code, ip=IP)
        assert reused.value.code == "otp_invalid"

    def test_wrong_codes_go_through_the_same_throttle(self, staff, settings):
        settings.SIGN_IN_MAX_FAILURES_PER_USER_IP = 3
        device = AuthenticatorFactory(user=staff.user)
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                services.sign_in_second_factor(user=staff.user, code="000000", ip=IP)
        with pytest.raises(Throttled):
            services.sign_in_second_factor(user=staff.user, code=totp_code(device), ip=IP)
        with pytest.raises(Throttled):  # the password door from that address is locked too
            services.sign_in(username="staff", password="anything", ip=IP)

    def test_wrong_codes_are_limited_per_account_from_any_address(self, staff, settings):
        settings.SIGN_IN_MAX_CODE_FAILURES_PER_USER = 4
        device = AuthenticatorFactory(user=staff.user)
        for n in range(4):
            with pytest.raises(Unauthenticated):
                services.sign_in_second_factor(user=staff.user, code="000000", ip=f"198.51.100.{n}")
        with pytest.raises(Throttled):
            services.sign_in_second_factor(user=staff.user, code=totp_code(device), ip="198.51.100.200")

    def test_a_right_code_clears_the_accounts_code_failures(self, staff, clock):
        device = AuthenticatorFactory(user=staff.user)
        with pytest.raises(Unauthenticated):
            services.sign_in_second_factor(user=staff.user, code="000000", ip=IP)
        services.sign_in_second_factor(user=staff.user, code=totp_code(device), ip=IP)
        assert failures("code_user") == 0

    @pytest.mark.parametrize("code", ["", "abcdef", "12345678901", "１２３４５６"])
    def test_a_malformed_code_is_a_counted_failure_not_an_error(self, staff, code):
        AuthenticatorFactory(user=staff.user)
        with pytest.raises(Unauthenticated):
            services.sign_in_second_factor(user=staff.user, code=code, ip=IP)
        assert failures("code_user") == 1

    def test_the_password_of_an_account_with_an_authenticator_keeps_the_pairs_count(self, staff, password):
        AuthenticatorFactory(user=staff.user)
        wrong_guess("staff")
        services.sign_in(username="staff", password=password, ip=IP)
        assert failures("user_ip") == 1  # only the code completes the sign-in

    def test_both_factors_in_one_request(self, staff, member, password):
        device = AuthenticatorFactory(user=staff.user)
        with pytest.raises(Unauthenticated) as missing:
            services.sign_in_with_code(username="staff", password=password, code=None, ip=IP)
        assert missing.value.code == "otp_required"
        user, verified = services.sign_in_with_code(username="staff", password=password, code=totp_code(device), ip=IP)
        assert (user, verified) == (staff.user, device)
        assert services.sign_in_with_code(username="member", password=password, code=None, ip=IP) == (
            member.user,
            None,
        )

    def test_a_wrong_password_is_reported_before_the_code_is_asked_for(self, staff):
        AuthenticatorFactory(user=staff.user)
        with pytest.raises(Unauthenticated) as wrong:
            services.sign_in_with_code(username="staff", password="wrong", code=None, ip=IP)
        assert wrong.value.code == "authentication_failed"

    def test_staff_without_an_authenticator_get_no_api_token(self, staff, password):
        with pytest.raises(Forbidden) as refused:
            services.sign_in_for_token(username="staff", password=password, code=None, ip=IP)
        assert refused.value.code == "second_factor_enrolment_required"


class TestEnrolment:
    def test_the_right_code_for_the_new_secret_confirms_an_authenticator(self, staff):
        key = new_key()
        probe = AuthenticatorFactory.build(user=staff.user, key=key)
        device = services.second_factor_enrol(user=staff.user, key=key, code=totp_code(probe), ip=IP)
        assert device.confirmed and device.key == key and device.user == staff.user
        with pytest.raises(Unauthenticated):  # the code used to enrol cannot sign in as well
            services.sign_in_second_factor(user=staff.user, code=totp_code(probe), ip=IP)

    def test_a_wrong_code_creates_nothing_and_is_counted(self, staff):
        with pytest.raises(Unauthenticated):
            services.second_factor_enrol(user=staff.user, key=new_key(), code="123456", ip=IP)
        assert not staff.user.totpdevice_set.exists()
        assert failures("code_user") == 1

    def test_an_account_with_an_authenticator_cannot_add_another_here(self, staff):
        AuthenticatorFactory(user=staff.user)
        key = new_key()
        with pytest.raises(Conflict):
            services.second_factor_enrol(
                user=staff.user, key=key, code=totp_code(AuthenticatorFactory.build(key=key)), ip=IP
            )

    def test_the_code_is_accepted_within_one_step_of_clock_drift(self, staff, clock):
        key = new_key()
        probe = AuthenticatorFactory.build(user=staff.user, key=key)
        late_code = totp_code(probe, at=NOON.timestamp() - 30)
        assert services.second_factor_enrol(user=staff.user, key=key, code=late_code, ip=IP).confirmed


def test_the_idle_limits_default_to_thirty_minutes_for_staff_and_eight_hours_for_others():
    from django.conf import settings

    assert timedelta(minutes=30) == settings.SESSION_IDLE_STAFF
    assert timedelta(hours=8) == settings.SESSION_IDLE


def test_an_inactive_account_is_a_failed_guess(member, password):
    get_user_model().objects.filter(pk=member.user.pk).update(is_active=False)
    with pytest.raises(Unauthenticated):
        services.sign_in(username="member", password=password, ip=IP)
    assert failures("user_ip") == 1


def test_the_privacy_register_declares_the_authenticators_secret():
    from labs import privacy

    rows = {(row["model"], row["field"]): row for row in privacy.register_fields()}
    assert rows[("otp_totp.TOTPDevice", "key")]["purposes"][0]["code"] == "security"
