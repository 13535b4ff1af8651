"""Every state change of the core domain: people, roles, accounts, sign-in."""

from __future__ import annotations

import hashlib
from binascii import unhexlify
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from labs import hooks
from labs.errors import Conflict, Forbidden, Invalid, Throttled, Unauthenticated
from labs.models import Company, Person, SignInCounter, Site
from labs.permissions import require_staff
from labs.second_factor import key_is_valid, second_factor_device, second_factor_required

User = get_user_model()
T = TypeVar("T")

PROFILE_FIELDS = frozenset({"first_name", "last_name", "phone", "job_title"})
PROTECTED_FIELDS = frozenset({"role", "company", "site", "is_staff", "is_superuser", "username"})


@transaction.atomic
def person_create(
    *,
    username: str,
    role: str,
    site: Site,
    company: Company | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    phone: str = "",
    job_title: str = "",
) -> Person:
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    person = Person(user=user, role=role, company=company, site=site, phone=phone, job_title=job_title)
    person.full_clean()
    person.save()
    return person


@transaction.atomic
def person_update_profile(*, actor: Person, person: Person, data: dict) -> Person:
    """Change a person's own profile. Role, company and site are never changed here, not even by staff."""
    protected = PROTECTED_FIELDS & data.keys()
    if protected:
        raise Forbidden(f"You cannot change {', '.join(sorted(protected))} here.")
    if actor.pk != person.pk:
        require_staff(actor)
    unknown = set(data) - PROFILE_FIELDS
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    user = person.user
    for name in ("first_name", "last_name"):
        if name in data:
            setattr(user, name, data[name])
    for name in ("phone", "job_title"):
        if name in data:
            setattr(person, name, data[name])
    user.full_clean()
    person.full_clean()
    user.save()
    person.save()
    return person


@transaction.atomic
def person_change_role(*, actor: Person, person: Person, role: str, company: Company | None) -> Person:
    """Staff change a person's role or company; the person's access credentials are revoked at once."""
    require_staff(actor)
    if actor.pk == person.pk:
        raise Forbidden("Staff cannot change their own role or company.")
    changed = person.role != role or person.company_id != (company.pk if company else None)
    person.role = role
    person.company = company
    person.full_clean()
    person.save(update_fields=["role", "company"])
    if changed:
        hooks.access_revoked(person_id=person.pk, reason="role_changed")
    return person


@transaction.atomic
def person_deactivate(*, actor: Person, person: Person) -> Person:
    """Disable an account: it can no longer sign in and every badge it holds is revoked at once."""
    require_staff(actor)
    user = person.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    Token.objects.filter(user=user).delete()
    hooks.access_revoked(person_id=person.pk, reason="account_disabled")
    return person


@transaction.atomic
def person_end_membership(*, actor: Person, person: Person, ends_on: date) -> Person:
    """Record the end of a membership; if it has ended, access ends now."""
    require_staff(actor)
    person.membership_ends_on = ends_on
    person.full_clean()
    person.save(update_fields=["membership_ends_on"])
    if ends_on <= timezone.localdate():
        hooks.access_revoked(person_id=person.pk, reason="membership_ended")
    return person


# --- Sign-in -------------------------------------------------------------------------------------------------
# One throttle for every door: the API token, the portal, the admin, second-factor codes, and any door added later
# (a password reset calls sign_in_attempt the same way). Failures are counted per (username, IP) and per IP, so a
# flood from one IP locks that IP and that pair only: the real user signing in from elsewhere is never locked out by
# someone else's guesses. Second-factor codes are also counted per account, from any IP (only someone who has the
# password gets that far).
#
# A guess first reserves a slot under each key (a conditional UPDATE ... SET failures = failures + 1 WHERE failures
# < limit), and only then is checked: N concurrent guesses can never pass a limit, because a guess that found no free
# slot is refused before its check runs. A wrong guess keeps its slots (that is the count); a right one gives them
# back. Callers must not wrap a door in a transaction that a wrong guess rolls back: the count must survive it.

CODE_REQUIRED = "otp_required"
CODE_INVALID = "otp_invalid"
ENROLMENT_REQUIRED = "second_factor_enrolment_required"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _window_start():
    window = settings.SIGN_IN_WINDOW.total_seconds()
    now = timezone.now().timestamp()
    return datetime.fromtimestamp(now - now % window, tz=UTC)


def _counter_keys(username: str, ip: str, *, second_factor: bool = False) -> list[tuple[str, str, int]]:
    keys = [
        ("user_ip", _digest(username.lower(), ip), settings.SIGN_IN_MAX_FAILURES_PER_USER_IP),
        ("ip", _digest(ip), settings.SIGN_IN_MAX_FAILURES_PER_IP),
    ]
    if second_factor:
        keys.append(("code_user", _digest(username.lower()), settings.SIGN_IN_MAX_CODE_FAILURES_PER_USER))
    return keys


def _reserve(scope: str, key_digest: str, window_start, limit: int) -> bool:
    """Take one slot under the key in this window; False when all ``limit`` are taken. Atomic on its own."""
    lookup = {"scope": scope, "key_digest": key_digest, "window_start": window_start}
    if SignInCounter.objects.filter(**lookup, failures__lt=limit).update(failures=F("failures") + 1):
        return True
    try:
        with transaction.atomic():
            SignInCounter.objects.create(**lookup, failures=1)
        return True
    except IntegrityError:  # the row exists: it was full, or another request created it a moment ago
        return bool(SignInCounter.objects.filter(**lookup, failures__lt=limit).update(failures=F("failures") + 1))


def _release(scope: str, key_digest: str, window_start) -> None:
    SignInCounter.objects.filter(scope=scope, key_digest=key_digest, window_start=window_start, failures__gt=0).update(
        failures=F("failures") - 1
    )


def _sign_in_reset(username: str, ip: str) -> None:
    """A completed sign-in clears that pair's (and that account's code) failures; the IP's count stays."""
    SignInCounter.objects.filter(scope="user_ip", key_digest=_digest(username.lower(), ip)).delete()
    SignInCounter.objects.filter(scope="code_user", key_digest=_digest(username.lower())).delete()


def sign_in_attempt(*, username: str, ip: str, check: Callable[[], T], second_factor: bool = False) -> T:
    """Run one guess at a sign-in door under the one throttle and return what ``check`` returned.

    A falsy result is a failure and stays counted; a truthy one frees its slots. Raises ``Throttled`` (``check`` is
    then never called) when the pair, the IP or (for a ``second_factor`` code) the account is at its limit.
    """
    window_start = _window_start()
    reserved = []
    for scope, key_digest, limit in _counter_keys(username, ip, second_factor=second_factor):
        if not _reserve(scope, key_digest, window_start, limit):
            for taken in reserved:
                _release(*taken, window_start)
            raise Throttled("Too many failed sign-ins from here; try again later.")
        reserved.append((scope, key_digest))
    result = None
    try:
        result = check()
    finally:
        if result:  # a right guess gives its slots back; a wrong one (or a crash) keeps them
            for taken in reserved:
                _release(*taken, window_start)
    return result


def sign_in_is_locked(*, username: str, ip: str) -> bool:
    """Whether the next guess for this pair from this IP would be refused (a read, for pages and tests)."""
    window_start = _window_start()
    for scope, key_digest, limit in _counter_keys(username, ip):
        row = SignInCounter.objects.filter(scope=scope, key_digest=key_digest, window_start=window_start).first()
        if row is not None and row.failures >= limit:
            return True
    return False


def sign_in(*, username: str, password: str, ip: str, request=None):
    """The first factor: check the password under the throttle; returns the user or raises Throttled /
    Unauthenticated. Whoever has an authenticator still owes its code (``sign_in_second_factor``)."""

    def check():
        user = authenticate(request, username=username, password=password)
        return user if user is not None and user.is_active else None

    user = sign_in_attempt(username=username, ip=ip, check=check)
    if user is None:
        raise Unauthenticated()
    if second_factor_device(user=user) is None:
        _sign_in_reset(username, ip)
    return user


def sign_in_second_factor(*, user, code: str, ip: str):
    """The second factor: check an authenticator code under the throttle; returns the device that accepted it.

    A code is accepted once (django-otp remembers the last time step used, under a row lock)."""
    device = second_factor_device(user=user)
    if device is None:
        raise Invalid("This account has no authenticator to check a code against.", code=ENROLMENT_REQUIRED)
    username = user.get_username()
    code = "".join(str(code).split())
    verified = sign_in_attempt(
        username=username,
        ip=ip,
        second_factor=True,
        check=lambda: code.isdigit() and verify_token(user, device.persistent_id, code),
    )
    if not verified:
        raise Unauthenticated("Wrong or expired code.", code=CODE_INVALID)
    _sign_in_reset(username, ip)
    return verified


def sign_in_with_code(*, username: str, password: str, code: str | None, ip: str, request=None):
    """Both factors in one request (the API token, the admin's login form); returns ``(user, device or None)``.

    ``device`` is None only for an account without an authenticator, which may still need to enrol
    (``second_factor_required``) before it can do anything else."""
    user = sign_in(username=username, password=password, ip=ip, request=request)
    if second_factor_device(user=user) is None:
        return user, None
    if not code:
        raise Unauthenticated("This account needs the code from its authenticator app.", code=CODE_REQUIRED)
    return user, sign_in_second_factor(user=user, code=code, ip=ip)


def sign_in_for_token(*, username: str, password: str, code: str | None, ip: str, request=None) -> str:
    """The API door: the password and, for anyone with an authenticator, its code; staff without one get no token."""
    user, device = sign_in_with_code(username=username, password=password, code=code, ip=ip, request=request)
    if device is None and second_factor_required(user):
        raise Forbidden(
            "Staff need two-factor authentication: set up an authenticator in the portal first.",
            code=ENROLMENT_REQUIRED,
        )
    return token_for(user=user)


def second_factor_enrol(*, user, key: str, code: str, ip: str, name: str = "Authenticator app"):
    """Confirm a new authenticator: ``code`` must match ``key`` now (under the throttle); returns the device.

    Refused if the account already has a confirmed authenticator (staff remove a lost one in the admin)."""
    if second_factor_device(user=user) is not None:
        raise Conflict("This account already has an authenticator.")
    if not key_is_valid(key):
        raise Invalid("The enrolment secret is not valid; reload the page.")
    code = "".join(str(code).split())
    totp = TOTP(unhexlify(key))
    matched = sign_in_attempt(
        username=user.get_username(),
        ip=ip,
        second_factor=True,
        check=lambda: code.isdigit() and totp.verify(int(code), tolerance=1),
    )
    if not matched:
        raise Unauthenticated("Wrong or expired code.", code=CODE_INVALID)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one enrolment at a time per account
        if second_factor_device(user=user) is not None:
            raise Conflict("This account already has an authenticator.")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice(user=user, name=name, key=key, confirmed=True, last_t=totp.t())
        device.full_clean()
        device.save()
    return device


def token_for(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def sign_in_counters_purge() -> int:
    """Delete counters whose window ended more than a day ago (their retention)."""
    cutoff = timezone.now() - settings.SIGN_IN_WINDOW - timedelta(days=1)
    deleted, _ = SignInCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted


def client_ip(request) -> str:
    """The client's IP: REMOTE_ADDR, or the entry TRUSTED_PROXY_COUNT hops back in X-Forwarded-For."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
