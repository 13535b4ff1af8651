"""Every state change of the core domain: people, roles, accounts, sign-in.

Who acts on people: every service that changes a person takes ``actor``, the staff Person making the change, and
requires staff of that person's site (another site's person is not found, as in the API). Every door passes a Person:
the API its signed-in person, the admin ``person_of(request.user)``. A Django superuser without a Person therefore
cannot change people in the admin until their own account has a staff Person: ``person_attach`` (the admin's
People -> Add) needs no actor, since a new Person holds nothing to end, and bootstraps that. Why not accept a bare
superuser as actor: "staff of the person's site" and "not your own role" are Person rules and a bare account has no
site to scope by; a second kind of actor would be a second rule to keep in step in every service, and the bookings and
badges services take a Person too, so the admin would still need one for them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from binascii import unhexlify
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib import import_module
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate, get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from labs import hooks
from labs.choices import COMPANY_ROLES, Role
from labs.errors import Conflict, Forbidden, Invalid, NotFound, Throttled, Unauthenticated
from labs.models import Company, Person, SignInCounter, Site
from labs.permissions import person_of, require_staff
from labs.second_factor import key_is_valid, second_factor_device, second_factor_required
from labs.transactions import enqueue_after_commit
from labs.validators import ascii_int

logger = logging.getLogger(__name__)

User = get_user_model()
T = TypeVar("T")

PROFILE_FIELDS = frozenset({"first_name", "last_name", "phone", "job_title"})
PROTECTED_FIELDS = frozenset({"role", "company", "site", "is_staff", "is_superuser", "username"})
# What person_update applies, each through its own service.
UPDATE_FIELDS = PROFILE_FIELDS | {"role", "company", "membership_ends_on", "is_active"}
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


# --- People: onboarding ------------------------------------------------------------------------------------------


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
    """Create an account and its Person, unchecked: for trusted callers (onboarding below, the demo, benchmarks)."""
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return person_attach(user=user, role=role, company=company, site=site, phone=phone, job_title=job_title)


@transaction.atomic
def person_attach(
    *,
    user: AbstractUser,
    role: str,
    site: Site,
    company: Company | None = None,
    phone: str = "",
    job_title: str = "",
    membership_ends_on: date | None = None,
) -> Person:
    """Give an existing account its Person (the admin's People -> Add; how a superuser gets a staff Person).

    No actor: a new Person holds no badge, visit or role to end, and the admin's add permission decides who may.
    """
    if company is not None and company.site_id != site.pk:
        raise Invalid(
            gettext("The company belongs to another site."),
            extra={"company": [gettext("Choose a company of this site.")]},
        )
    person = Person(
        user=user,
        role=role,
        company=company,
        site=site,
        phone=phone,
        job_title=job_title,
        membership_ends_on=membership_ends_on,
    )
    person.full_clean()
    person.save()
    return person


def username_for_email(email: str) -> str:
    """The username of an onboarded person: the email address, lowercased (they sign in with it).

    Characters Django does not allow in usernames (anything but letters, digits and ``@.+-_``) become ``_``.
    """
    return _USERNAME_UNSAFE.sub("_", email.strip().lower())[:150]


@transaction.atomic
def person_onboard(
    *,
    actor: Person,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    site: Site,
    company: Company | None = None,
    password: str | None = None,
) -> Person:
    """Staff onboard a person at their own site. Without a password the person is emailed a set-password link.

    The username is derived from the email (:func:`username_for_email`); an email already in use is refused.
    A given password must pass the password validators.
    """
    require_staff(actor)
    if site.pk != actor.site_id:
        raise Forbidden(gettext("Staff onboard people at their own site."))
    email = User.objects.normalize_email(email.strip())
    username = username_for_email(email)
    if User.objects.filter(email__iexact=email).exists() or User.objects.filter(username__iexact=username).exists():
        raise Invalid(
            gettext("This email is in use."), extra={"email": [gettext("An account with this email already exists.")]}
        )
    if password:
        candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
        _validate_password(password, candidate)
    person = person_create(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        site=site,
        company=company,
        password=password or None,
    )
    if not password:
        from labs import tasks

        enqueue_after_commit(tasks.person_welcome_send, person.pk)
    return person


def set_password_url(user: AbstractUser) -> str:
    """The absolute, single-use link to the portal page where ``user`` chooses a password.

    Django's PasswordResetTokenGenerator signs it: it stops working once the password changes (or the person signs
    in), and after PASSWORD_RESET_TIMEOUT (three days by default).
    """
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    try:
        path = reverse("portal:set-password", args=[uidb64, token])
    except NoReverseMatch:  # the portal is not installed: the bare parts
        path = f"/set-password/{uidb64}/{token}/"
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def person_welcome_send(*, person_id: int) -> bool:
    """Email a new person the link to choose their password; nothing once they have one (so a retry is harmless)."""
    from django.core.mail import send_mail

    person = Person.objects.select_related("user", "site").filter(pk=person_id).first()
    if person is None or not person.user.is_active or not person.user.email or person.user.has_usable_password():
        return False
    user = person.user
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    send_mail(
        subject=f"Your account at {person.site.name}",
        message=(
            f"Hello {user.first_name or user.username},\n\n"
            f"{person.site.name} has made you an account. Your username is {user.username}.\n"
            f"Choose your password here (the link works once, for {days} days):\n{set_password_url(user)}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


@transaction.atomic
def user_set_password(*, user: AbstractUser, password: str) -> None:
    """Set a password chosen by its owner (the set-password page). Validators apply; every sign-in made with the
    old password (sessions, API tokens) ends, so a link used after a lost password locks out whoever had it."""
    _validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    _sign_ins_end(user_id=user.pk)


def _validate_password(password: str, user: AbstractUser) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(gettext("Choose a stronger password."), extra={"password": list(exc.messages)}) from None


# --- People: changes by staff ------------------------------------------------------------------------------------


def _require_site_staff(actor: Person | None, person: Person) -> None:
    """Staff of the person's site; to anyone else's staff the person does not exist."""
    require_staff(actor)
    if actor.site_id != person.site_id:
        raise NotFound(gettext("No such person at your site."))


def _tokens_end(*, user_id: int) -> int:
    deleted, _ = Token.objects.filter(user_id=user_id).delete()
    return deleted


def _sessions_end(*, user_id: int) -> int:
    """Delete every live session signed in as ``user_id``, inside the caller's transaction.

    Sessions are stored in the database (the project's SESSION_ENGINE); their user id is inside the signed payload,
    so each live session is decoded once: a scan, fine for the rare change that needs it. With a cache- or
    cookie-based engine the sessions cannot be listed: then a deactivated account is still refused at its next
    request (ModelBackend.get_user ignores inactive users), but a role change cannot sign the person out.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        logger.warning("SESSION_ENGINE cannot list sessions; user %s stays signed in", user_id)
        return 0
    decoder, wanted, ended = store_class(), str(user_id), 0
    live = store_class.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for key, data in live.values_list("session_key", "session_data").iterator(chunk_size=2000):
        if decoder.decode(data).get(SESSION_KEY) == wanted:
            store_class(session_key=key).delete()
            ended += 1
    return ended


def _sign_ins_end(*, user_id: int) -> None:
    """End every way the account is signed in: API tokens and portal/admin sessions."""
    _tokens_end(user_id=user_id)
    _sessions_end(user_id=user_id)


@transaction.atomic
def person_update_profile(*, actor: Person, person: Person, data: dict) -> Person:
    """Change a person's profile (themself, or staff of their site). Role, company and site are never changed here."""
    protected = PROTECTED_FIELDS & data.keys()
    if protected:
        raise Forbidden(f"You cannot change {', '.join(sorted(protected))} here.")
    if actor.pk != person.pk:
        _require_site_staff(actor, person)
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
    """Staff change a person's role or company. Everything granted under the old one ends at once: badges (revoked
    through the access_revoked hook), API tokens and sessions (the person signs in again), and the Django admin for
    someone who is no longer staff. Promotion to staff does not open the admin: that is a permission to grant."""
    _require_site_staff(actor, person)
    if actor.pk == person.pk:
        raise Forbidden(gettext("Staff cannot change their own role or company."))
    if company is not None and company.site_id != person.site_id:
        raise Invalid(
            gettext("The company belongs to another site."),
            extra={"company": [gettext("Choose a company of this site.")]},
        )
    changed = person.role != role or person.company_id != (company.pk if company else None)
    person.role = role
    person.company = company
    person.full_clean()
    person.save(update_fields=["role", "company"])
    if changed:
        user = person.user
        if role != Role.STAFF and user.is_staff:
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        _sign_ins_end(user_id=user.pk)
        hooks.access_revoked(person_id=person.pk, reason="role_changed")
    return person


@transaction.atomic
def person_deactivate(*, actor: Person, person: Person) -> Person:
    """Disable an account: it can no longer sign in, its sessions and API tokens end, every badge it holds is revoked
    and the visits it hosts are cancelled (the access_revoked hook). Idempotent."""
    _require_site_staff(actor, person)
    if actor.pk == person.pk:
        raise Forbidden(gettext("Staff cannot deactivate their own account."))
    user = person.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    _sign_ins_end(user_id=user.pk)
    hooks.access_revoked(person_id=person.pk, reason="account_disabled")
    return person


@transaction.atomic
def person_reactivate(*, actor: Person, person: Person) -> Person:
    """Let a deactivated account sign in again. Nothing ended comes back: badges are issued anew, visits registered
    again."""
    _require_site_staff(actor, person)
    if person.erased_at is not None:
        raise Conflict(gettext("This person's data was erased; the account cannot come back."))
    user = person.user
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return person


@transaction.atomic
def person_end_membership(*, actor: Person, person: Person, ends_on: date | None) -> Person:
    """Record the day a membership ends (None: it does not end). From that day at the person's site access ends:
    today or earlier, at once (badges revoked, hosted visits cancelled, through the access_revoked hook); a day still
    to come, by badges' daily sweep. The account stays, for the person's data requests: deactivate it to end sign-in."""
    _require_site_staff(actor, person)
    person.membership_ends_on = ends_on
    person.full_clean()
    person.save(update_fields=["membership_ends_on"])
    if ends_on is not None and ends_on <= timezone.now().astimezone(person.site.tz).date():
        hooks.access_revoked(person_id=person.pk, reason="membership_ended")
    return person


@transaction.atomic
def person_update(*, actor: Person, person: Person, changes: dict) -> Person:
    """Apply a staff edit of several fields at once (the API's PATCH, the admin's form), in one transaction, each
    change through its own service: profile fields through person_update_profile, role and company through
    person_change_role, ``membership_ends_on`` through person_end_membership, ``is_active`` through
    person_reactivate / person_deactivate. Only what differs from the stored value is applied."""
    unknown = set(changes) - UPDATE_FIELDS
    if unknown:
        raise Invalid(f"These fields cannot change here: {', '.join(sorted(unknown))}.")
    _require_site_staff(actor, person)
    if person.erased_at is not None:
        raise Conflict(gettext("This person's data was erased; the record is a pseudonym and does not change."))
    user = person.user
    if changes.get("is_active") is True and not user.is_active:
        person_reactivate(actor=actor, person=person)
    profile = {
        name: value
        for name, value in changes.items()
        if name in PROFILE_FIELDS and value != getattr(user if name in {"first_name", "last_name"} else person, name)
    }
    if profile:
        person_update_profile(actor=actor, person=person, data=profile)
    if "role" in changes or "company" in changes:
        role = changes.get("role", person.role)
        company = changes.get("company", person.company if role in COMPANY_ROLES else None)
        if role != person.role or (company.pk if company else None) != person.company_id:
            person_change_role(actor=actor, person=person, role=role, company=company)
    if "membership_ends_on" in changes and changes["membership_ends_on"] != person.membership_ends_on:
        person_end_membership(actor=actor, person=person, ends_on=changes["membership_ends_on"])
    if changes.get("is_active") is False and user.is_active:
        person_deactivate(actor=actor, person=person)
    return person


# --- Accounts without a Person (the User admin) ------------------------------------------------------------------


@transaction.atomic
def user_deactivate(*, actor: Person, user: AbstractUser) -> None:
    """The User admin's "active" switch, off. A person's account goes through person_deactivate; an account without
    a Person (an operator's superuser) holds only sign-ins, which end."""
    person = person_of(user)
    if person is not None:
        person_deactivate(actor=actor, person=person)
        return
    require_staff(actor)
    if actor.user_id == user.pk:
        raise Forbidden(gettext("Staff cannot deactivate their own account."))
    user.is_active = False
    user.save(update_fields=["is_active"])
    _sign_ins_end(user_id=user.pk)


@transaction.atomic
def user_reactivate(*, actor: Person, user: AbstractUser) -> None:
    """The User admin's "active" switch, on: person_reactivate for a person's account."""
    person = person_of(user)
    if person is not None:
        person_reactivate(actor=actor, person=person)
        return
    require_staff(actor)
    user.is_active = True
    user.save(update_fields=["is_active"])


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
            raise Throttled(gettext("Too many failed sign-ins from here; try again later."))
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
        raise Invalid(gettext("This account has no authenticator to check a code against."), code=ENROLMENT_REQUIRED)
    username = user.get_username()
    code = "".join(str(code).split())
    verified = sign_in_attempt(
        username=username,
        ip=ip,
        second_factor=True,
        check=lambda: ascii_int(code) is not None and verify_token(user, device.persistent_id, code),
    )
    if not verified:
        raise Unauthenticated(gettext("Wrong or expired code."), code=CODE_INVALID)
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
        raise Unauthenticated(gettext("This account needs the code from its authenticator app."), code=CODE_REQUIRED)
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
        raise Conflict(gettext("This account already has an authenticator."))
    if not key_is_valid(key):
        raise Invalid(gettext("The enrolment secret is not valid; reload the page."))
    code = "".join(str(code).split())
    number = ascii_int(code)
    totp = TOTP(unhexlify(key))
    matched = sign_in_attempt(
        username=user.get_username(),
        ip=ip,
        second_factor=True,
        check=lambda: number is not None and totp.verify(number, tolerance=1),
    )
    if not matched:
        raise Unauthenticated(gettext("Wrong or expired code."), code=CODE_INVALID)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one enrolment at a time per account
        if second_factor_device(user=user) is not None:
            raise Conflict(gettext("This account already has an authenticator."))
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
