"""Every state change of badges: issue, suspend, reinstate, revoke, expire; readers; visits; access decisions.

The access decision (:func:`access_decide`) is the one service behind both reader paths, the HTTP endpoint and the
MQTT scan topic. It reads the badge, its holder and the door's rules fresh from the database on every scan (a
revocation counts from the next scan), records a rotating code's (badge, reader, step) under a unique constraint (a
replay is refused even when two scans race) and writes exactly one audit row, all in one transaction.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from badges import codes
from badges.choices import LIVE_STATUSES, BadgeKind, BadgeStatus, Channel, CredentialType, Reason
from badges.models import (
    AUDIT_RETENTION_DAYS,
    VISIT_EARLY_ENTRY,
    VISIT_MAX_LENGTH,
    VISIT_RETENTION_DAYS,
    AccessDecision,
    Badge,
    BadgeCodeUse,
    Door,
    DoorRule,
    Kiosk,
    Reader,
    Visit,
)
from labs.choices import Role
from labs.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from labs.models import Person, Site
from labs.permissions import is_host, is_staff, require_staff
from labs.prepared import columns
from labs.transactions import after_commit, enqueue_after_commit
from labs.validators import single_line

logger = logging.getLogger(__name__)

DECISION_TTL_S = 5  # how long a reader may show (and act on) a decision
CODE_USE_RETENTION = timedelta(minutes=10)  # far beyond the +-1 step tolerance
VISIT_MAX_AHEAD = timedelta(days=365)
NOTIFY_RETRY_AFTER = timedelta(minutes=1)  # the sweep re-sends notifications not sent by then


# --- badges ----------------------------------------------------------------------------------------------------


def _local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _new_badge(*, kind: str, person: Person | None = None, visit: Visit | None = None, **fields) -> Badge:
    """Create a badge with a fresh public id (and secret, for a digital badge); constraint errors become 409."""
    card_uid = fields.pop("card_uid", None)
    badge = Badge(person=person, visit=visit, kind=kind, **fields)
    if kind == BadgeKind.DIGITAL:
        badge.secret = codes.new_secret()
    else:
        uid = codes.normalise_card_uid(card_uid)
        if uid is None:
            raise Invalid(
                gettext("A card UID is 8 to 32 hex digits (4 to 16 bytes)."),
                extra={"card_uid": [gettext("Not a card UID.")]},
            )
        badge.card_uid_digest = codes.card_uid_digest(uid)
        badge.card_uid_hint = uid[-4:]
    for _attempt in range(3):
        badge.public_id = codes.new_public_id()
        badge.full_clean(exclude=["public_id"], validate_constraints=False)
        try:
            with transaction.atomic():
                badge.save()
            return badge
        except IntegrityError as exc:
            message = str(exc).lower()
            if "public_id" in message:
                continue  # a 60-bit collision: draw again
            if "card" in message:
                raise Conflict(
                    gettext("This card is already registered to a live badge."), code="card_in_use"
                ) from None
            raise Conflict(gettext("There is already a live badge of this kind."), code="badge_exists") from None
    raise Conflict(gettext("Could not allocate a badge id; try again."))  # pragma: no cover - 3 collisions of 60 bits


@transaction.atomic
def badge_issue(
    *,
    actor: Person,
    person: Person,
    kind: str,
    card_uid: str | None = None,
    valid_until: datetime | None = None,
) -> Badge:
    """Staff issue a digital badge or register a physical card for a person of their site."""
    require_staff(actor)
    if person.site_id != actor.site_id:
        raise NotFound(gettext("No such person."))
    if kind not in BadgeKind.values:
        raise Invalid(gettext("kind is digital or card."))
    if not person.user.is_active:
        raise Conflict(gettext("This account is disabled."), code="account_disabled")
    today = timezone.localdate(timezone=person.site.tz)
    if person.membership_ends_on is not None:
        if person.membership_ends_on <= today:
            raise Conflict(gettext("This person's membership has ended."), code="membership_ended")
        membership_end = _local_midnight(person.membership_ends_on, person.site.tz)
        valid_until = min(valid_until, membership_end) if valid_until else membership_end
    if valid_until is not None and valid_until <= timezone.now():
        raise Invalid(
            gettext("valid_until is in the past."), extra={"valid_until": [gettext("Must be in the future.")]}
        )
    if kind == BadgeKind.CARD and not card_uid:
        raise Invalid(
            gettext("A card needs its card_uid."), extra={"card_uid": [gettext("This field is required for a card.")]}
        )
    return _new_badge(
        kind=kind,
        person=person,
        card_uid=card_uid,
        valid_until=valid_until,
        issued_by=actor,
    )


def _require_badge_manager(actor: Person, badge: Badge) -> None:
    require_staff(actor)
    site_id = badge.person.site_id if badge.person_id else badge.visit.site_id
    if site_id != actor.site_id:
        raise NotFound(gettext("No such badge."))


@transaction.atomic
def badge_suspend(*, actor: Person, badge: Badge, reason: str = "suspended") -> Badge:
    """Temporarily stop a badge (a lost phone that may turn up); :func:`badge_reinstate` undoes it."""
    _require_badge_manager(actor, badge)
    if badge.status == BadgeStatus.SUSPENDED:
        return badge
    if badge.status != BadgeStatus.ACTIVE:
        status = badge.get_status_display().lower()
        raise Conflict(gettext("A %(status)s badge cannot be suspended.") % {"status": status})
    badge.status = BadgeStatus.SUSPENDED
    badge.suspended_at = timezone.now()
    badge.status_reason = reason[:64]
    badge.save(update_fields=["status", "suspended_at", "status_reason"])
    return badge


@transaction.atomic
def badge_reinstate(*, actor: Person, badge: Badge) -> Badge:
    _require_badge_manager(actor, badge)
    if badge.status == BadgeStatus.ACTIVE:
        return badge
    if badge.status != BadgeStatus.SUSPENDED:
        status = badge.get_status_display().lower()
        raise Conflict(gettext("A %(status)s badge cannot be reinstated; issue a new one.") % {"status": status})
    badge.status = BadgeStatus.ACTIVE
    badge.suspended_at = None
    badge.status_reason = ""
    badge.save(update_fields=["status", "suspended_at", "status_reason"])
    return badge


@transaction.atomic
def badge_revoke(*, actor: Person, badge: Badge, reason: str = "revoked_by_staff") -> Badge:
    """Revoke for good: the very next scan is refused. Idempotent."""
    _require_badge_manager(actor, badge)
    if badge.status == BadgeStatus.REVOKED:
        return badge
    badge.status = BadgeStatus.REVOKED
    badge.revoked_at = timezone.now()
    badge.status_reason = reason[:64]
    badge.save(update_fields=["status", "revoked_at", "status_reason"])
    return badge


def _revoke_queryset(badges, *, reason: str, now: datetime) -> int:
    return badges.filter(status__in=LIVE_STATUSES).update(
        status=BadgeStatus.REVOKED, revoked_at=now, status_reason=reason[:64]
    )


def badges_revoke_for_person(*, person_id: int, reason: str) -> int:
    """The ``labs.hooks.access_revoked`` handler: runs inside the caller's transaction (role change, account
    disabled, membership ended). Revokes every live badge of the person; when the person leaves (not a mere role
    change) their visitors' upcoming visits are cancelled too."""
    now = timezone.now()
    revoked = _revoke_queryset(Badge.objects.filter(person_id=person_id), reason=reason, now=now)
    if reason != "role_changed":
        hosted = Visit.objects.filter(host_id=person_id, cancelled_at=None, checked_out_at=None, end__gt=now)
        for visit in hosted:
            _visit_end(visit, at=now, cancelled=True, reason="host_access_revoked")
    return revoked


def badges_expire_due(*, now: datetime | None = None) -> int:
    """Mark badges past their ``valid_until`` expired (the decision checks the time anyway)."""
    now = now or timezone.now()
    return Badge.objects.filter(status__in=LIVE_STATUSES, valid_until__lte=now).update(
        status=BadgeStatus.EXPIRED, status_reason="valid_until_passed"
    )


def badges_revoke_ended_memberships(*, now: datetime | None = None) -> int:
    """Daily: revoke the badges of people whose membership ended (a future end date recorded earlier)."""
    now = now or timezone.now()
    count = 0
    for site in Site.objects.all():
        today = now.astimezone(site.tz).date()
        people = Person.objects.filter(site=site, membership_ends_on__lte=today)
        badges = Badge.objects.filter(person__in=people)
        count += _revoke_queryset(badges, reason="membership_ended", now=now)
    return count


def badge_code_uses_purge(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    deleted, _ = BadgeCodeUse.objects.filter(used_at__lt=now - CODE_USE_RETENTION).delete()
    return deleted


# --- doors and readers -----------------------------------------------------------------------------------------


@transaction.atomic
def reader_create(*, site: Site, door: Door, slug: str, name: str = "", key: str | None = None) -> tuple[Reader, str]:
    """A reader with a fresh API key; the key is returned once and only its digest is stored."""
    key = key or codes.new_reader_key()
    reader = Reader(site=site, door=door, slug=slug, name=name)
    reader.key_digest = codes.reader_key_digest(key)
    reader.key_rotated_at = timezone.now()
    reader.full_clean()
    reader.save()
    return reader, key


@transaction.atomic
def reader_rotate_key(*, reader: Reader, key: str | None = None) -> str:
    """Give the reader a new API key (the old one stops working at once); returns it, once."""
    key = key or codes.new_reader_key()
    reader.key_digest = codes.reader_key_digest(key)
    reader.key_rotated_at = timezone.now()
    reader.save(update_fields=["key_digest", "key_rotated_at"])
    return key


# --- visits ----------------------------------------------------------------------------------------------------


def _require_host_or_site_staff(actor: Person, visit: Visit) -> None:
    if actor.pk == visit.host_id or (is_staff(actor) and actor.site_id == visit.site_id):
        return
    raise NotFound(gettext("No such visit."))


@transaction.atomic
def visit_create(
    *,
    host: Person,
    site: Site,
    name: str,
    email: str,
    start: datetime,
    end: datetime | None,
    purpose: str = "",
) -> Visit:
    """Register a visitor; their badge is valid from 30 minutes before the start to the end, at most 24 hours.

    An open-ended visit is refused. The visitor is emailed a link to their badge after commit.
    """
    if not is_host(host):
        raise Forbidden(gettext("Only members, employees, mentors and staff may host visitors."))
    if end is None:
        raise Invalid(
            gettext("A visit needs an end."), extra={"end": [gettext("A visit needs an end (at most 24 hours).")]}
        )
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise Invalid(gettext("Give start and end with a UTC offset."))
    now = timezone.now()
    if end <= start:
        raise Invalid(gettext("A visit ends after it starts."), extra={"end": [gettext("Must be after start.")]})
    if end - start > VISIT_MAX_LENGTH:
        raise Invalid(
            gettext("A visit lasts at most 24 hours."), extra={"end": [gettext("At most 24 hours after start.")]}
        )
    if end <= now:
        raise Invalid(gettext("This visit is already over."), extra={"end": [gettext("Must be in the future.")]})
    if start > now + VISIT_MAX_AHEAD:
        raise Invalid(
            gettext("Visits are registered at most a year ahead."), extra={"start": [gettext("Too far ahead.")]}
        )
    visit = Visit(host=host, site=site, name=name.strip(), email=email.strip(), purpose=purpose.strip())
    visit.start, visit.end = start, end
    visit.full_clean()
    visit.save()
    _new_badge(kind=BadgeKind.DIGITAL, visit=visit, valid_from=start - VISIT_EARLY_ENTRY, valid_until=end)
    from badges import tasks

    enqueue_after_commit(tasks.visit_badge_send, visit.pk)
    return visit


def _visit_arrived(visit: Visit, *, at: datetime, by: Person | None) -> bool:
    """Mark the visitor arrived once (a conditional UPDATE: two first scans cannot both notify the host)."""
    claimed = Visit.objects.filter(pk=visit.pk, checked_in_at=None).update(checked_in_at=at, checked_in_by=by)
    if claimed:
        visit.checked_in_at, visit.checked_in_by = at, by
        from badges import tasks

        enqueue_after_commit(tasks.visit_host_notify, visit.pk)
    return bool(claimed)


@transaction.atomic
def visit_check_in(*, actor: Person, visit: Visit, at: datetime | None = None) -> Visit:
    """Reception (staff of the visit's site) checks the visitor in; the host hears of it. Idempotent."""
    at = at or timezone.now()
    if not (is_staff(actor) and actor.site_id == visit.site_id):
        if actor.pk == visit.host_id:
            raise Forbidden(gettext("Reception checks visitors in."))
        raise NotFound(gettext("No such visit."))
    if visit.cancelled_at or visit.checked_out_at:
        raise Conflict(gettext("This visit has ended."), code="visit_ended")
    if visit.checked_in_at:
        return visit
    if at < visit.check_in_from or at >= visit.end:
        raise Conflict(
            gettext("The visitor can be checked in from 30 minutes before the visit to its end."), code="not_now"
        )
    _visit_arrived(visit, at=at, by=actor)
    return visit


def _visit_end(visit: Visit, *, at: datetime, cancelled: bool, reason: str) -> None:
    fields = ["ended_at"]
    visit.ended_at = at
    if cancelled:
        visit.cancelled_at = at
        fields.append("cancelled_at")
        _revoke_queryset(Badge.objects.filter(visit=visit), reason=reason, now=at)
    else:
        visit.checked_out_at = at
        fields.append("checked_out_at")
        for badge in Badge.objects.filter(visit=visit, status__in=LIVE_STATUSES):
            badge.status = BadgeStatus.EXPIRED
            badge.valid_until = at if badge.valid_until is None else min(badge.valid_until, at)
            if badge.valid_until <= badge.valid_from:
                badge.valid_from = badge.valid_until - timedelta(microseconds=1)
            badge.status_reason = reason
            badge.save(update_fields=["status", "valid_until", "valid_from", "status_reason"])
    visit.save(update_fields=fields)


@transaction.atomic
def visit_check_out(*, actor: Person, visit: Visit, at: datetime | None = None) -> Visit:
    """The host or reception checks the visitor out: the visit ends and its badge stops working at once."""
    _require_host_or_site_staff(actor, visit)
    if visit.cancelled_at:
        raise Conflict(gettext("This visit was cancelled."), code="visit_ended")
    if visit.checked_out_at:
        return visit
    if visit.checked_in_at is None:  # this copy may predate the first scan: ask the database
        visit.checked_in_at = Visit.objects.filter(pk=visit.pk).values_list("checked_in_at", flat=True).first()
    if visit.checked_in_at is None:
        # Checking out someone who never came would record a departure that did not happen: cancel the visit instead.
        raise Conflict(
            gettext("The visitor never arrived: cancel the visit instead of checking them out."), code="not_arrived"
        )
    _visit_end(visit, at=at or timezone.now(), cancelled=False, reason="checked_out")
    return visit


@transaction.atomic
def visit_cancel(*, actor: Person, visit: Visit) -> Visit:
    """The host or reception cancels a visit (DELETE): the badge is revoked at once; the record stays until purged."""
    _require_host_or_site_staff(actor, visit)
    if visit.cancelled_at:
        return visit
    _visit_end(visit, at=timezone.now(), cancelled=True, reason="visit_cancelled")
    return visit


# --- the reception kiosk ---------------------------------------------------------------------------------------


@transaction.atomic
def kiosk_create(*, actor: Person, name: str) -> Kiosk:
    """Staff set up a reception tablet for their own site (the view then gives the device its signed cookie)."""
    require_staff(actor)
    name = single_line(name).strip() or "Reception"
    return Kiosk.objects.create(site=actor.site, name=name[:80], created_by=actor)


@transaction.atomic
def kiosk_revoke(*, actor: Person, kiosk: Kiosk) -> Kiosk:
    """The kiosk stops at once: its cookie names a revoked row."""
    if not (is_staff(actor) and actor.site_id == kiosk.site_id):
        raise NotFound(gettext("No such kiosk."))
    if kiosk.revoked_at is None:
        kiosk.revoked_at = timezone.now()
        kiosk.save(update_fields=["revoked_at"])
    return kiosk


def _walk_in_host(site: Site, who: str) -> Person:
    """The one host at the site whose full name or username is ``who`` (case-insensitive); no list is ever shown."""
    from django.db.models import Value
    from django.db.models.functions import Concat, Lower

    wanted = " ".join(who.split()).lower()
    people = (
        Person.objects.select_related("user", "site")
        .filter(site=site, user__is_active=True)
        .annotate(full=Lower(Concat("user__first_name", Value(" "), "user__last_name")))
        .filter(Q(full=wanted) | Q(user__username__iexact=wanted))
    )
    hosts = [person for person in people[:3] if is_host(person)]
    if len(hosts) != 1:
        message = gettext("We could not find one person of that name here. Ask reception to help.")
        raise Invalid(message, code="host_not_found", extra={"host": [message]})
    return hosts[0]


@transaction.atomic
def visit_walk_in(*, kiosk: Kiosk, name: str, email: str, host: str, accepts_house_rules: bool) -> Visit:
    """A visitor registers at the kiosk: the visit starts now, they are checked in, and the host is emailed.

    The site's house rules (if any) must be accepted; the acceptance time is kept with the visit. The visitor also
    gets their badge link by email, like an invited visitor.
    """
    from django.conf import settings

    if not kiosk.is_active:
        raise Forbidden(gettext("This kiosk is switched off."), code="kiosk_revoked")
    site = kiosk.site
    now = timezone.now()
    recent = Visit.objects.filter(site=site, walk_in=True, created_at__gte=now - timedelta(minutes=10)).count()
    if recent >= settings.KIOSK_WALK_INS_PER_10_MINUTES:
        # A lobby tablet is open to anyone: a flood of registrations (or of host-name guesses) is stopped here.
        raise Throttled(gettext("Too many registrations just now. Please ask at the front desk."), code="kiosk_busy")
    if site.house_rules.strip() and not accepts_house_rules:
        message = gettext("Please read and accept the house rules.")
        raise Invalid(message, code="house_rules_not_accepted", extra={"accepts_house_rules": [message]})
    person = _walk_in_host(site, host)
    visit = visit_create(
        host=person,
        site=site,
        name=name,
        email=email,
        start=now,
        end=now + timedelta(hours=settings.KIOSK_WALK_IN_HOURS),
        purpose="",
    )
    visit.walk_in = True
    visit.house_rules_accepted_at = now if site.house_rules.strip() else None
    visit.save(update_fields=["walk_in", "house_rules_accepted_at"])
    _visit_arrived(visit, at=now, by=None)  # emails the host after commit
    Kiosk.objects.filter(pk=kiosk.pk).update(last_seen_at=now)
    return visit


@transaction.atomic
def visit_card_issue(*, actor: Person, visit: Visit, card_uid: str) -> Badge:
    """Reception hands the visitor a physical card valid for the same window as the visit."""
    if not (is_staff(actor) and actor.site_id == visit.site_id):
        raise NotFound(gettext("No such visit."))
    if visit.cancelled_at or visit.checked_out_at or visit.end <= timezone.now():
        raise Conflict(gettext("This visit has ended."), code="visit_ended")
    return _new_badge(
        kind=BadgeKind.CARD,
        visit=visit,
        card_uid=card_uid,
        valid_from=visit.start - VISIT_EARLY_ENTRY,
        valid_until=visit.end,
        issued_by=actor,
    )


def visit_host_notify(*, visit_id: int) -> bool:
    """Email the host that their visitor arrived; at most once (claimed with a conditional UPDATE)."""
    from django.core.mail import send_mail

    visit = Visit.objects.select_related("host__user", "site").filter(pk=visit_id).first()
    if visit is None or visit.checked_in_at is None or not visit.host.user.email:
        return False
    if not Visit.objects.filter(pk=visit_id, host_notified_at=None).update(host_notified_at=timezone.now()):
        return False
    local = visit.checked_in_at.astimezone(visit.site.tz)
    try:
        send_mail(
            subject=single_line(f"{visit.name} has arrived"),
            message=(
                f"Your visitor {visit.name} arrived at {visit.site.name} at {local:%H:%M} ({visit.site.timezone}).\n"
            ),
            from_email=None,
            recipient_list=[visit.host.user.email],
        )
    except Exception:
        Visit.objects.filter(pk=visit_id).update(host_notified_at=None)  # let a retry send it
        raise
    return True


def visit_badge_send(*, visit_id: int) -> bool:
    """Email the visitor the link to their badge page (a rotating QR code valid only around the visit); once."""
    from django.core.mail import send_mail

    from badges import selectors

    visit = Visit.objects.select_related("host__user", "site").filter(pk=visit_id).first()
    if visit is None or visit.cancelled_at or visit.checked_out_at or visit.end <= timezone.now():
        return False
    badge = visit.badges.filter(kind=BadgeKind.DIGITAL, status__in=LIVE_STATUSES).first()
    if badge is None:
        return False
    if not Visit.objects.filter(pk=visit_id, visitor_notified_at=None).update(visitor_notified_at=timezone.now()):
        return False
    link = selectors.visitor_badge_url(badge)
    tz = visit.site.tz
    when = f"{visit.start.astimezone(tz):%A %d %B, %H:%M} to {visit.end.astimezone(tz):%H:%M} ({visit.site.timezone})"
    address = f", {visit.site.address}" if visit.site.address else ""
    try:
        send_mail(
            subject=single_line(f"Your visit to {visit.site.name}"),
            message=(
                f"Hello {visit.name},\n\n{visit.host.display_name} expects you at {visit.site.name}{address} on "
                f"{when}.\nShow this badge at the door from 30 minutes before your visit:\n{link}\n"
            ),
            from_email=None,
            recipient_list=[visit.email],
        )
    except Exception:
        Visit.objects.filter(pk=visit_id).update(visitor_notified_at=None)  # let a retry send it
        raise
    return True


def visits_notify_pending(*, now: datetime | None = None) -> int:
    """Send the notifications an outage kept from being enqueued: badge links and arrivals of the last day."""
    now = now or timezone.now()
    before, since = now - NOTIFY_RETRY_AFTER, now - timedelta(days=1)
    sent = 0
    for visit_id in Visit.objects.filter(
        visitor_notified_at=None, cancelled_at=None, checked_out_at=None, end__gt=now, created_at__lt=before
    ).values_list("pk", flat=True)[:200]:
        sent += visit_badge_send(visit_id=visit_id)
    for visit_id in Visit.objects.filter(
        host_notified_at=None, checked_in_at__lt=before, checked_in_at__gt=since
    ).values_list("pk", flat=True)[:200]:
        sent += visit_host_notify(visit_id=visit_id)
    return sent


def visits_purge(*, now: datetime | None = None) -> int:
    """Delete visits (with their badges) 30 days after they ended; the audit log keeps only their ids."""
    cutoff = (now or timezone.now()) - timedelta(days=VISIT_RETENTION_DAYS)
    ended = Visit.objects.filter(Q(ended_at__lt=cutoff) | Q(ended_at=None, end__lt=cutoff))
    deleted = 0
    for visit_id in list(ended.values_list("pk", flat=True)[:5000]):
        count, _ = Visit.objects.filter(pk=visit_id).delete()
        deleted += 1 if count else 0
    return deleted


def access_decisions_purge(*, now: datetime | None = None) -> int:
    """Delete audit rows past their retention. The only DELETE the append-only triggers let through."""
    cutoff = (now or timezone.now()) - timedelta(days=AUDIT_RETENTION_DAYS + 1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AccessDecision._meta.db_table} WHERE at < %s",  # noqa: S608 - the table name is ours
            [connection.ops.adapt_datetimefield_value(cutoff)],
        )
        return cursor.rowcount


# --- access decisions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    audit_id: int
    badge_id: int | None = None
    person_id: int | None = None
    visit_id: int | None = None
    ttl_s: int = DECISION_TTL_S


@dataclass
class _Evaluation:
    reason: str
    badge: Badge | None = None
    step: int | None = None


# The decision's two hot reads are plain SQL through Model.objects.raw() (model instances, field converters applied,
# portable to PostgreSQL and SQLite): on this hot path the ORM's query compilation cost about four times the
# database round trip (bench/access.py). The badge comes with the few facts about its holder the decision needs.
_BADGE_SQL = """
SELECT {badge_columns}, p.role AS holder_role, p.company_id AS holder_company_id, u.is_active AS holder_active,
       p.membership_ends_on AS holder_membership_ends_on, s.timezone AS holder_timezone,
       v.site_id AS visit_site_id, v.cancelled_at IS NOT NULL AS visit_cancelled,
       v.checked_out_at IS NOT NULL AS visit_checked_out, v.checked_in_at IS NOT NULL AS visit_checked_in
FROM {badge} b
LEFT JOIN {person} p ON p.id = b.person_id
LEFT JOIN {user} u ON u.id = p.user_id
LEFT JOIN {site} s ON s.id = p.site_id
LEFT JOIN {visit} v ON v.id = b.visit_id
WHERE b.kind = %s AND {where}
"""


def _badge_sql(where: str) -> str:
    from django.contrib.auth import get_user_model

    tables = {
        "badge": Badge._meta.db_table,
        "person": Person._meta.db_table,
        "user": get_user_model()._meta.db_table,
        "site": Site._meta.db_table,
        "visit": Visit._meta.db_table,
    }
    return _BADGE_SQL.format(where=where, badge_columns=columns(Badge, "b"), **tables)


_BADGE_BY_PUBLIC_ID = _badge_sql("b.public_id = %s")
_BADGE_BY_CARD = _badge_sql("b.card_uid_digest = %s ORDER BY b.issued_at DESC LIMIT 5")
_RULES_SQL = (
    f"SELECT {columns(DoorRule, 'r')} FROM {DoorRule._meta.db_table} r WHERE r.door_id = %s AND r.is_active = %s AND ("  # noqa: S608
    f"NOT EXISTS (SELECT 1 FROM {DoorRule.companies.through._meta.db_table} c WHERE c.doorrule_id = r.id) "
    f"OR EXISTS (SELECT 1 FROM {DoorRule.companies.through._meta.db_table} c "
    "WHERE c.doorrule_id = r.id AND c.company_id = %s)) ORDER BY r.id"
)


def _as_date(value) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite returns raw columns as text


def _find_badge(credential_type: str, value) -> tuple[Badge | None, str | None]:
    """The badge a credential names (and, for a QR code, the mac to check); None when nothing matches."""
    if credential_type == CredentialType.QR:
        parsed = codes.parse_code(value)
        if parsed is None:
            return None, None
        badge = next(iter(Badge.objects.raw(_BADGE_BY_PUBLIC_ID, [BadgeKind.DIGITAL.value, parsed.public_id])), None)
        return (badge, parsed.mac) if badge is not None and badge.secret else (None, None)
    uid = codes.normalise_card_uid(value)
    if uid is None:
        return None, None
    candidates = list(Badge.objects.raw(_BADGE_BY_CARD, [BadgeKind.CARD.value, codes.card_uid_digest(uid)]))
    live = [b for b in candidates if b.status in LIVE_STATUSES]
    return ((live or candidates)[0] if candidates else None), None


def _within_hours(rule: DoorRule, local: datetime) -> bool:
    if rule.opens_at is None or rule.closes_at is None:
        return local.isoweekday() in rule.weekdays
    now = local.time()
    if rule.opens_at < rule.closes_at:
        return local.isoweekday() in rule.weekdays and rule.opens_at <= now < rule.closes_at
    if now >= rule.opens_at:  # a window past midnight, on the day it opened
        return local.isoweekday() in rule.weekdays
    if now < rule.closes_at:  # ... or after midnight: it belongs to yesterday
        return (local - timedelta(days=1)).isoweekday() in rule.weekdays
    return False


def _rules_for(door: Door, *, company_id: int | None) -> list[DoorRule]:
    """The door's active rules that admit ``company_id`` (rules listing no company admit everyone): one query."""
    return list(DoorRule.objects.raw(_RULES_SQL, [door.pk, True, company_id]))


def _door_reason(door: Door, *, role: str, company_id: int | None, local: datetime) -> str | None:
    if not door.is_active:
        return Reason.WRONG_DOOR
    if role == Role.VISITOR and not door.allows_visitors:
        return Reason.WRONG_DOOR
    matching = [rule for rule in _rules_for(door, company_id=company_id) if not rule.roles or role in rule.roles]
    if not matching:
        return Reason.WRONG_DOOR
    if not any(_within_hours(rule, local) for rule in matching):
        return Reason.OUTSIDE_HOURS
    return None


def _evaluate(*, reader: Reader | None, credential_type: str, value, at: datetime) -> _Evaluation:
    if reader is None or not reader.is_active:
        return _Evaluation(Reason.UNKNOWN_READER)
    badge, mac = _find_badge(credential_type, value)
    if badge is None:
        return _Evaluation(Reason.UNKNOWN)
    step = None
    if mac is not None:
        check = codes.check_mac(badge.secret, mac, at=at)
        if not check.valid:
            return _Evaluation(Reason.EXPIRED if check.stale else Reason.UNKNOWN, badge)
        step = check.step
    if badge.status == BadgeStatus.REVOKED:
        return _Evaluation(Reason.REVOKED, badge)
    if badge.status == BadgeStatus.SUSPENDED:
        return _Evaluation(Reason.SUSPENDED, badge)
    if badge.status == BadgeStatus.EXPIRED or (badge.valid_until is not None and at >= badge.valid_until):
        return _Evaluation(Reason.EXPIRED, badge)
    if at < badge.valid_from:
        return _Evaluation(Reason.NOT_YET_VALID, badge)
    site = reader.site
    if badge.person_id:
        if not badge.holder_active:
            return _Evaluation(Reason.REVOKED, badge)
        ends_on = _as_date(badge.holder_membership_ends_on)
        if ends_on is not None and ends_on <= at.astimezone(zoneinfo.ZoneInfo(badge.holder_timezone)).date():
            return _Evaluation(Reason.EXPIRED, badge)
        role, company_id = badge.holder_role, badge.holder_company_id
    else:
        if badge.visit_cancelled:
            return _Evaluation(Reason.REVOKED, badge)
        if badge.visit_checked_out:
            return _Evaluation(Reason.EXPIRED, badge)
        if badge.visit_site_id != reader.site_id:
            return _Evaluation(Reason.WRONG_DOOR, badge)
        role, company_id = Role.VISITOR, None
    reason = _door_reason(reader.door, role=role, company_id=company_id, local=at.astimezone(site.tz))
    if reason:
        return _Evaluation(reason, badge)
    return _Evaluation(Reason.OK, badge, step)


def _record_presence(badge: Badge, *, site: Site, at: datetime) -> None:
    """An allowed scan is presence at the site. A visitor's first one checks the visit in (in the decision's
    transaction); a person's checks them in to their bookings there through the bookings service, right after the
    decision commits, so a failure on the booking side never undoes or delays the door decision's audit row."""
    if badge.visit_id:
        if not badge.visit_checked_in:
            _visit_arrived(badge.visit, at=at, by=None)
        return
    from bookings.services import presence_check_in

    after_commit(lambda: presence_check_in(person=Person.objects.get(pk=badge.person_id), site=site, at=at))


_CODE_USE_SQL = (
    f"INSERT INTO {BadgeCodeUse._meta.db_table} (badge_id, reader_id, step, used_at) VALUES (%s, %s, %s, %s) "  # noqa: S608
    "ON CONFLICT (badge_id, reader_id, step) DO NOTHING RETURNING id"
)


def _code_use_claim(badge: Badge, reader: Reader, step: int, at: datetime) -> bool:
    """Record that this code opened this reader; False if it already had (the unique constraint decides, so two
    racing scans cannot both win). One round trip: INSERT ... ON CONFLICT DO NOTHING (PostgreSQL, SQLite >= 3.35)."""
    with connection.cursor() as cursor:
        cursor.execute(_CODE_USE_SQL, [badge.pk, reader.pk, step, connection.ops.adapt_datetimefield_value(at)])
        return cursor.fetchone() is not None


@transaction.atomic
def access_decide(
    *,
    reader: Reader | None,
    reader_ref: str,
    credential_type: str,
    value,
    channel: str,
    scan_id: str = "",
    at: datetime | None = None,
) -> Decision:
    """Allow or deny one scan and audit it: the one service behind ``POST /api/v1/access/check/`` and MQTT scans.

    ``reader`` is the authenticated reader (None: unknown); ``value`` is the presented credential, never trusted.
    """
    at = at or timezone.now()
    if credential_type not in CredentialType.values or channel not in Channel.values:
        raise Invalid(gettext("Unknown credential type or channel."))
    if connection.vendor == "postgresql":
        # The audit row and the code's use are durable before the reader acts, even on a connection that commits
        # asynchronously for its other work (the MQTT bridge turns synchronous_commit off for device state).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO on")
    evaluation = _evaluate(reader=reader, credential_type=credential_type, value=value, at=at)
    reason, badge = evaluation.reason, evaluation.badge
    if reason == Reason.OK and evaluation.step is not None and not _code_use_claim(badge, reader, evaluation.step, at):
        reason = Reason.REPLAYED
    allow = reason == Reason.OK
    if allow:
        _record_presence(badge, site=reader.site, at=at)
    audit = AccessDecision.objects.create(
        at=at,
        channel=channel,
        site_id=reader.site_id if reader else None,
        reader=reader,
        reader_ref=reader_ref[:64],
        door_id=reader.door_id if reader else None,
        credential_type=credential_type,
        badge=badge,
        person_id=badge.person_id if badge else None,
        visit_id=badge.visit_id if badge else None,
        allow=allow,
        reason=reason,
        scan_id=scan_id[:64],
    )
    return Decision(
        allow=allow,
        reason=str(reason),
        audit_id=audit.pk,
        badge_id=badge.pk if badge else None,
        person_id=badge.person_id if badge else None,
        visit_id=badge.visit_id if badge else None,
    )
