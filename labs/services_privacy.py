"""Data-subject rights as services: export, erasure (and its replay after a restore), consents, retention purges and
the log of staff reading another person's data. Every door (API, portal, admin, tasks, commands) calls these.

Erasure keeps the Person and account rows as a pseudonymised tombstone instead of deleting them: the rows the law
requires to keep (the access audit, bookings kept for 13 months' utilisation analysis) point at it by id, so they
keep a pseudonym and never a name, and nothing cascades away that must stay. Each app's
:class:`labs.rights.PersonalDataSource` removes or pseudonymises its own rows; this module does the account.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs import hooks, privacy, rights
from labs.errors import Forbidden, Invalid
from labs.models import (
    Consent,
    ConsentChannel,
    ConsentPurpose,
    ErasureLog,
    Person,
    PersonalDataAccess,
    SignInCounter,
)
from labs.permissions import require_staff
from labs.services import _digest, _require_site_staff, _sign_ins_end, sign_in_attempt

logger = logging.getLogger(__name__)
User = get_user_model()

PSEUDONYM_PREFIX = "erased-"


# --- Staff access to another person's data -------------------------------------------------------------------


def personal_data_access_log(*, actor: Person, subject: Person, door: str) -> None:
    """Record that staff ``actor`` read ``subject``'s personal data through ``door`` (nothing for one's own)."""
    if actor is None or subject is None or actor.pk == subject.pk:
        return
    PersonalDataAccess.objects.create(actor=actor, subject=subject, door=door[:40])


# --- Export ----------------------------------------------------------------------------------------------------


def person_export(*, actor: Person, person: Person, door: str = "api.me.export") -> dict:
    """Everything held about ``person`` (themself, or staff of their site, logged)."""
    if actor.pk != person.pk:
        _require_site_staff(actor, person)
        personal_data_access_log(actor=actor, subject=person, door=door)
    return rights.export_person(person)


# --- Erasure ---------------------------------------------------------------------------------------------------


def person_erase_self(*, person: Person, password: str, ip: str) -> ErasureLog:
    """The person erases their own account, re-authenticated with their password under the one sign-in throttle
    (a wrong password is Forbidden, so a stolen session cannot erase an account)."""
    user = person.user
    ok = sign_in_attempt(
        username=user.get_username(), ip=ip, check=lambda: bool(password) and user.check_password(password)
    )
    if not ok:
        raise Forbidden(gettext("Wrong password."), code="forbidden")
    return _erase(person=person, by_staff=False)


def person_erase(*, actor: Person, person: Person) -> ErasureLog:
    """Staff erase a person of their site on the person's request to the operator (never their own account)."""
    _require_site_staff(actor, person)
    if actor.pk == person.pk:
        raise Forbidden(gettext("Staff erase their own account from the portal, with their password."))
    return _erase(person=person, by_staff=True)


@transaction.atomic
def _erase(*, person: Person, by_staff: bool, pseudonym: str | None = None, log: bool = True) -> ErasureLog | None:
    """Revoke every credential, let every source remove or pseudonymise its rows, then the account itself.

    Idempotent: an erased person is erased again (what a restored backup brought back goes) under the same pseudonym.
    """
    person = Person.objects.select_for_update().select_related("user").get(pk=person.pk)
    existing = ErasureLog.objects.filter(person_id=person.pk).order_by("id").first()
    pseudonym = pseudonym or (existing.pseudonym if existing else PSEUDONYM_PREFIX + secrets.token_hex(6))
    user = person.user
    # Credentials first: nothing signed in as the person survives the transaction.
    _sign_ins_end(user_id=user.pk)
    TOTPDevice.objects.filter(user=user).delete()
    hooks.access_revoked(person_id=person.pk, reason="erased")  # badges revoked, hosted visits cancelled
    for source in rights.sources():
        source.erase(person, pseudonym)
    if log and existing is None:
        entry = ErasureLog.objects.create(person_id=person.pk, pseudonym=pseudonym, by_staff=by_staff)
        transaction.on_commit(lambda: _erasure_file_append(entry))
        return entry
    return existing


def _erasure_file_append(entry: ErasureLog) -> None:
    """Append the erasure to settings.ERASURE_LOG_FILE (after commit: only erasures that happened)."""
    import json
    from pathlib import Path

    path = Path(settings.ERASURE_LOG_FILE)
    line = {
        "person_id": entry.person_id,
        "pseudonym": entry.pseudonym,
        "erased_at": entry.erased_at.isoformat(),
        "by_staff": entry.by_staff,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError:
        logger.exception("could not append erasure %s to %s", entry.pk, path)


def erasure_file_entries(path: str) -> list[dict]:
    """The erasures recorded in a JSON-lines file (missing file: none)."""
    import json
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def erasures_replay(*, file_entries: list[dict] | None = None) -> int:
    """Run every logged erasure again (after restoring a backup taken before some of them); returns how many ran.

    ``file_entries`` (from :func:`erasure_file_entries`) bring back the log rows a restored backup does not have."""
    from django.utils.dateparse import parse_datetime

    known = set(ErasureLog.objects.values_list("person_id", flat=True))
    for line in file_entries or []:
        if line["person_id"] not in known:
            ErasureLog.objects.create(
                person_id=line["person_id"],
                pseudonym=line["pseudonym"],
                erased_at=parse_datetime(line["erased_at"]),
                by_staff=bool(line.get("by_staff")),
            )
            known.add(line["person_id"])
    count = 0
    for entry in ErasureLog.objects.order_by("id"):
        person = Person.objects.filter(pk=entry.person_id).first()
        if person is None:
            continue
        _erase(person=person, by_staff=entry.by_staff, pseudonym=entry.pseudonym, log=False)
        count += 1
    return count


def _labs_export(person: Person):
    return [
        [person.user],
        [person],
        person.consents.all(),
        TOTPDevice.objects.filter(user=person.user),
    ]


def _labs_erase(person: Person, pseudonym: str) -> None:
    """The account and the Person become a tombstone: the pseudonym as username, no names, no email, no password."""
    user = person.user
    SignInCounter.objects.filter(scope="code_user", key_digest=_digest(user.get_username().lower())).delete()
    user.username = pseudonym
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    person.phone = ""
    person.job_title = ""
    person.membership_ends_on = None
    person.erased_at = person.erased_at or timezone.now()
    person.save(update_fields=["phone", "job_title", "membership_ends_on", "erased_at"])
    person.consents.all().delete()


LABS_SOURCE = rights.PersonalDataSource(
    name="account",
    export=_labs_export,
    erase=_labs_erase,
    order=1000,
    title=gettext_lazy("Your account, profile and consents"),
    kept=gettext_lazy(
        "the account row stays as a pseudonym with no name, email or password, so that the rows the law requires "
        "to keep (access decisions, 365 days) and bookings kept for analysis (13 months) name no one"
    ),
)


# --- The mentor notice ------------------------------------------------------------------------------------------

MENTOR_NOTICE = gettext_lazy(
    "The privacy policy does not cover what you share with a mentor: what you choose to tell or show a mentor is "
    "not confidential."
)


def mentor_notices(*, site_id: int, emails) -> list[str]:
    """The mentor notice, once, when any of ``emails`` is a mentor's at the site (a member sharing with a mentor)."""
    from labs.choices import Role

    wanted = {str(e).strip().lower() for e in emails or [] if e}
    if not wanted:
        return []
    mentors = Person.objects.filter(site_id=site_id, role=Role.MENTOR, erased_at__isnull=True)
    mentor_emails = {e.lower() for e in mentors.values_list("user__email", flat=True) if e}
    return [str(MENTOR_NOTICE)] if wanted & mentor_emails else []


# --- Consents --------------------------------------------------------------------------------------------------

CONSENT_TEXT_VERSION = "2019-07-12.1"


def consents_current(*, person: Person) -> dict[str, Consent | None]:
    """The latest grant or withdrawal per purpose (None: never asked, which is no consent)."""
    current: dict[str, Consent | None] = dict.fromkeys(ConsentPurpose.values)
    for consent in person.consents.order_by("purpose", "-at", "-id"):
        if current[consent.purpose] is None:
            current[consent.purpose] = consent
    return current


def consent_given(*, person: Person, purpose: str) -> bool:
    """Whether ``person`` consents to ``purpose`` now: what every processing that needs a consent checks."""
    latest = person.consents.filter(purpose=purpose).order_by("-at", "-id").first()
    return bool(latest and latest.granted)


@transaction.atomic
def consents_set(
    *, person: Person, choices: dict[str, bool], channel: str, text_version: str = CONSENT_TEXT_VERSION
) -> list[Consent]:
    """Record the person's choices (purpose -> granted); a choice equal to the current one adds no row."""
    unknown = set(choices) - set(ConsentPurpose.values)
    if unknown:
        raise Invalid(f"Unknown purposes: {', '.join(sorted(unknown))}.")
    if channel not in ConsentChannel.values:
        raise Invalid("Unknown channel.")
    current = consents_current(person=person)
    now = timezone.now()
    created = []
    for purpose, granted in choices.items():
        latest = current[purpose]
        if latest is not None and latest.granted == bool(granted):
            continue
        if latest is None and not granted:
            continue
        created.append(
            Consent.objects.create(
                person=person,
                purpose=purpose,
                granted=bool(granted),
                text_version=text_version,
                channel=channel,
                at=now,
            )
        )
    return created


def _consenting(*, site_id: int, purpose: str) -> list[Person]:
    """Active people of the site whose latest choice for ``purpose`` is a grant (two queries, any number of people)."""
    latest: dict[int, bool] = {}
    rows = Consent.objects.filter(person__site_id=site_id, purpose=purpose).order_by("person_id", "-at", "-id")
    for person_id, granted in rows.values_list("person_id", "granted"):
        latest.setdefault(person_id, granted)
    ids = [person_id for person_id, granted in latest.items() if granted]
    people = Person.objects.filter(pk__in=ids, user__is_active=True, erased_at__isnull=True)
    return list(people.select_related("user", "company").order_by("user__last_name", "user__first_name", "id"))


def consent_audience(*, actor: Person, purpose: str) -> list[Person]:
    """The people of the staff member's site who consent to ``purpose`` now (e.g. the marketing mailing list)."""
    require_staff(actor)
    return _consenting(site_id=actor.site_id, purpose=purpose)


def community_directory(*, viewer: Person) -> list[Person]:
    """The people of the viewer's site who consent to be shown to the community (name, job title, company, role).
    Visitors do not see it: the community is the members', employees' and mentors'."""
    from labs.choices import Role

    if viewer.role == Role.VISITOR:
        raise Forbidden(gettext("The community directory is for members, employees and mentors."))
    return _consenting(site_id=viewer.site_id, purpose=ConsentPurpose.COMMUNITY)


# --- Retention -------------------------------------------------------------------------------------------------
# Each app registers a purge per declared retention (labs.rights.register_purge); retention_purge runs them all.


def retention_purge(*, now=None) -> dict[str, int]:
    """Enforce every declaration's retention: run each registered purge; idempotent (a second run deletes nothing)."""
    now = now or timezone.now()
    return {name: purge(now) for name, purge in rights.purges()}


def labs_retention_purge(now) -> int:
    from labs.outbox import outbox_purge
    from labs.services import sign_in_counters_purge

    deleted = sign_in_counters_purge()
    deleted += outbox_purge()
    access_days = privacy.declaration_for(PersonalDataAccess, "at").retention_days
    deleted += PersonalDataAccess.objects.filter(at__lt=now - timedelta(days=access_days)).delete()[0]
    deleted += _sessions_purge(now)
    return deleted


def memberships_ended_erase(now) -> int:
    """A person whose membership ended more than the declared days ago is erased (their declarations' retention:
    "while the membership or contract lasts, then deleted within 30 days")."""
    days = privacy.declaration_for(Person, "membership_ends_on").retention_days
    due = Person.objects.filter(erased_at__isnull=True, membership_ends_on__lt=(now - timedelta(days=days)).date())
    count = 0
    for person in due.select_related("user")[:500]:
        _erase(person=person, by_staff=True)
        count += 1
    return count


def _sessions_purge(now) -> int:
    """Expired sessions (Django leaves them to ``clearsessions``)."""
    from importlib import import_module

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        return 0
    return store_class.get_model_class().objects.filter(expire_date__lt=now).delete()[0]
