"""Every state change of the core domain: people, roles, accounts, sign-in."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from labs import hooks
from labs.errors import Forbidden, Invalid, Throttled, Unauthenticated
from labs.models import Company, Person, SignInCounter, Site
from labs.permissions import require_staff

User = get_user_model()

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
# Failures are counted per (username, IP) and per IP. A flood from one IP locks that IP and that pair only: the real
# user signing in from elsewhere is never locked out by someone else's guesses.


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _window_start():
    window = settings.SIGN_IN_WINDOW.total_seconds()
    now = timezone.now().timestamp()
    return datetime.fromtimestamp(now - now % window, tz=UTC)


def _counter_keys(username: str, ip: str) -> list[tuple[str, str, int]]:
    return [
        ("user_ip", _digest(username.lower(), ip), settings.SIGN_IN_MAX_FAILURES_PER_USER_IP),
        ("ip", _digest(ip), settings.SIGN_IN_MAX_FAILURES_PER_IP),
    ]


def _increment(scope: str, key_digest: str, window_start) -> None:
    """Atomic: a conditional UPDATE ... SET failures = failures + 1, inserting the row on first use."""
    lookup = {"scope": scope, "key_digest": key_digest, "window_start": window_start}
    if SignInCounter.objects.filter(**lookup).update(failures=F("failures") + 1):
        return
    try:
        with transaction.atomic():
            SignInCounter.objects.create(**lookup, failures=1)
    except IntegrityError:  # another request created it first
        SignInCounter.objects.filter(**lookup).update(failures=F("failures") + 1)


def sign_in_is_locked(*, username: str, ip: str) -> bool:
    window_start = _window_start()
    for scope, key_digest, limit in _counter_keys(username, ip):
        row = SignInCounter.objects.filter(scope=scope, key_digest=key_digest, window_start=window_start).first()
        if row is not None and row.failures >= limit:
            return True
    return False


def sign_in(*, username: str, password: str, ip: str, request=None):
    """Check credentials under the throttle; returns the user or raises Throttled / Unauthenticated."""
    if sign_in_is_locked(username=username, ip=ip):
        raise Throttled("Too many failed sign-ins from here; try again later.")
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        window_start = _window_start()
        for scope, key_digest, _limit in _counter_keys(username, ip):
            _increment(scope, key_digest, window_start)
        raise Unauthenticated()
    SignInCounter.objects.filter(scope="user_ip", key_digest=_digest(username.lower(), ip)).delete()
    return user


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
