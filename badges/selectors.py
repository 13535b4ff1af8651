"""Reads of badges, readers and visits: who may see which, the current QR code, reader authentication."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from badges import codes
from badges.choices import LIVE_STATUSES, BadgeKind, BadgeStatus
from badges.models import Badge, Kiosk, Reader, Visit
from labs.models import Person, Site
from labs.permissions import is_staff, scope_queryset

VISITOR_BADGE_SALT = "badges.visitor-badge"
KIOSK_SALT = "badges.kiosk"


# --- readers ---------------------------------------------------------------------------------------------------


def _reader_queryset() -> QuerySet[Reader]:
    return Reader.objects.select_related("site", "door")


def reader_authenticate(*, slug: str, key: str) -> Reader | None:
    """The reader named ``slug`` if ``key`` is its API key (constant-time comparison of SHA-256 digests)."""
    reader = _reader_queryset().filter(slug=slug).first() if slug else None
    stored = reader.key_digest if reader is not None else None
    if not codes.reader_key_matches(stored, key or ""):
        return None
    return reader


def reader_for_topic(*, site_slug: str, reader_slug: str) -> Reader | None:
    """The reader an MQTT scan topic names; the broker's ACL lets only that reader's identity publish there."""
    reader = _reader_queryset().filter(slug=reader_slug).first()
    if reader is None or reader.site.slug != site_slug:
        return None
    return reader


# --- badges ----------------------------------------------------------------------------------------------------


def badge_for_person(*, person: Person, kind: str = BadgeKind.DIGITAL) -> Badge | None:
    """The person's badge of ``kind`` to show: a live one if any, else the latest (to say why it does not work)."""
    live_first = Case(When(status__in=LIVE_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField())
    return (
        Badge.objects.filter(person=person, kind=kind)
        .annotate(live_first=live_first)
        .order_by("live_first", "-issued_at")
        .first()
    )


def badge_is_usable(badge: Badge, *, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    return (
        badge.status == BadgeStatus.ACTIVE
        and badge.valid_from <= at
        and (badge.valid_until is None or at < badge.valid_until)
    )


def badge_current_code(*, badge: Badge, at: datetime | None = None) -> str | None:
    """The rotating QR value of a usable digital badge at ``at``; None otherwise (nothing to show)."""
    at = at or timezone.now()
    if badge.kind != BadgeKind.DIGITAL or not badge.secret or not badge_is_usable(badge, at=at):
        return None
    return codes.code_for(badge.public_id, bytes(badge.secret), codes.step_at(at))


def badges_visible_to(person: Person | None) -> QuerySet[Badge]:
    """Staff: the badges of their site's people and visits; everyone else: their own."""
    base = Badge.objects.select_related("person__user", "visit__site")
    if is_staff(person):
        return base.filter(Q(person__site_id=person.site_id) | Q(visit__site_id=person.site_id))
    return scope_queryset(base, person, owner_field="person")


# --- visits ----------------------------------------------------------------------------------------------------


def visits_visible_to(person: Person | None) -> QuerySet[Visit]:
    """The visits a person hosts; staff: every visit at their site. Never a colleague's or another company's."""
    base = Visit.objects.select_related("host__user", "site").prefetch_related("badges")
    return scope_queryset(base, person, owner_field="host", site_field="site")


def visits_for_host(*, host: Person, since: datetime | None = None) -> QuerySet[Visit]:
    since = since or timezone.now() - timedelta(days=7)
    return visits_visible_to(host).filter(host=host, end__gte=since).order_by("start")


def _local_day_bounds(day: date, site: Site) -> tuple[datetime, datetime]:
    tz = site.tz
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def visits_for_reception(*, site: Site, day: date | None = None, query: str = "") -> QuerySet[Visit]:
    """The visits of one local day at a site (those overlapping it), for the reception desk.

    ``query`` narrows them to a visitor's name or email, or the host's name (case-insensitive, any part).
    """
    day = day or timezone.localdate(timezone=site.tz)
    start, end = _local_day_bounds(day, site)
    visits = Visit.objects.select_related("host__user", "site").filter(site=site, start__lt=end, end__gt=start)
    for word in query.split()[:5]:
        visits = visits.filter(
            Q(name__icontains=word)
            | Q(email__icontains=word)
            | Q(host__user__first_name__icontains=word)
            | Q(host__user__last_name__icontains=word)
        )
    return visits.order_by("start", "name")


# --- the reception kiosk ---------------------------------------------------------------------------------------


def kiosk_token(kiosk: Kiosk) -> str:
    return signing.dumps({"kiosk": kiosk.pk, "site": kiosk.site_id}, salt=KIOSK_SALT, compress=True)


def kiosk_from_token(token: str | None) -> Kiosk | None:
    """The active kiosk a device's signed cookie names; None for none, a forged one, or a revoked kiosk."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=KIOSK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kiosk"), int):
        return None
    return (
        Kiosk.objects.select_related("site").filter(pk=data["kiosk"], site_id=data.get("site"), revoked_at=None).first()
    )


# --- the visitor's badge page ----------------------------------------------------------------------------------


def visitor_badge_token(badge: Badge) -> str:
    return signing.dumps(badge.public_id, salt=VISITOR_BADGE_SALT, compress=True)


def badge_from_visitor_token(token: str) -> Badge | None:
    """The visit badge a signed link names; None for a forged or mangled token."""
    try:
        public_id = signing.loads(token, salt=VISITOR_BADGE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(public_id, str) or not codes.PUBLIC_ID_PATTERN.fullmatch(public_id):
        return None
    return (
        Badge.objects.select_related("visit__site", "visit__host__user")
        .filter(public_id=public_id, visit__isnull=False, kind=BadgeKind.DIGITAL)
        .first()
    )


def visitor_badge_url(badge: Badge) -> str:
    """The absolute link emailed to the visitor (PORTAL_BASE_URL + the portal's visitor-badge page)."""
    token = visitor_badge_token(badge)
    try:
        path = reverse("portal:visitor-badge", args=[token])
    except NoReverseMatch:  # the portal page is not installed: give the bare token
        return token
    return getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/") + path
