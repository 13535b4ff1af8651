"""Demo data for badges, called by ``manage.py demo_site``: the main entrance, its reader, badges, a visitor.

Idempotent: a second run creates nothing and prints the same. The reader ``cph-main`` opens for every role with a
valid badge at all hours. Its API key is ``DEMO_READER_KEY`` when set; otherwise one derived from DJANGO_SECRET_KEY,
so every run prints the same key (only its digest is stored).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from badges import codes, services
from badges.choices import LIVE_STATUSES, BadgeKind
from badges.models import Badge, Door, DoorRule, Reader, Visit, all_weekdays
from labs.models import Person, Site

DEMO_READER = "cph-main"
DEMO_DOOR = {"slug": "main-entrance", "name": "Main entrance"}
DEMO_VISITOR = {"name": "Ole Gæst", "email": "ole.gaest@guests.example", "purpose": "Meeting at Nordlys Robotics"}
DEMO_VISITOR_HOST = "member"
DEMO_CARD_HOLDER = "outsider"
DEMO_ISSUER = "staff"
DEMO_CARD_UID = "04:A1:B2:C3:D4:E5:F6"
VISIT_LENGTH = timedelta(hours=4)


def demo_reader_key() -> tuple[str, str]:
    """The demo reader's key and where it came from."""
    configured = os.environ.get("DEMO_READER_KEY", "").strip()
    if configured:
        return configured, "from DEMO_READER_KEY"
    derived = hmac.new(settings.SECRET_KEY.encode(), b"labs.badges.demo-reader:" + DEMO_READER.encode(), hashlib.sha256)
    return derived.hexdigest()[:40], "derived from DJANGO_SECRET_KEY; set DEMO_READER_KEY to choose one"


def _ensure_door(site: Site) -> Door:
    door, _ = Door.objects.get_or_create(
        site=site, slug=DEMO_DOOR["slug"], defaults={"name": DEMO_DOOR["name"], "allows_visitors": True}
    )
    if not door.rules.exists():
        rule = DoorRule(door=door, roles=[], weekdays=all_weekdays())  # every role, every day, all day
        rule.full_clean()
        rule.save()
    return door


def _ensure_reader(site: Site, door: Door, key: str) -> Reader:
    reader = Reader.objects.filter(slug=DEMO_READER).first()
    if reader is None:
        reader, _ = services.reader_create(site=site, door=door, slug=DEMO_READER, name="Main entrance", key=key)
    elif not codes.reader_key_matches(reader.key_digest, key):
        services.reader_rotate_key(reader=reader, key=key)
    return reader


def _ensure_badges(site: Site, issuer: Person) -> int:
    """A digital badge, issued by the demo staff, for every active person of the site who has no live one."""
    people = Person.objects.filter(site=site, user__is_active=True).exclude(
        badges__kind=BadgeKind.DIGITAL, badges__status__in=LIVE_STATUSES
    )
    for person in people.select_related("site", "user"):
        services.badge_issue(actor=issuer, person=person, kind=BadgeKind.DIGITAL)
    return Badge.objects.filter(person__site=site, kind=BadgeKind.DIGITAL, status__in=LIVE_STATUSES).count()


def _ensure_card(issuer: Person) -> None:
    holder = Person.objects.filter(user__username=DEMO_CARD_HOLDER).select_related("site", "user").first()
    digest = codes.card_uid_digest(codes.normalise_card_uid(DEMO_CARD_UID))
    if holder is None or Badge.objects.filter(card_uid_digest=digest, status__in=LIVE_STATUSES).exists():
        return
    services.badge_issue(actor=issuer, person=holder, kind=BadgeKind.CARD, card_uid=DEMO_CARD_UID)


def _ensure_visit(site: Site) -> Visit | None:
    host = Person.objects.filter(user__username=DEMO_VISITOR_HOST).first()
    if host is None:
        return None
    now = timezone.now()
    visit = (
        Visit.objects.filter(
            host=host, site=site, email=DEMO_VISITOR["email"], cancelled_at=None, checked_out_at=None, end__gt=now
        )
        .order_by("start")
        .first()
    )
    if visit is None:
        local = now.astimezone(site.tz)
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
        visit = services.visit_create(host=host, site=site, start=start, end=start + VISIT_LENGTH, **DEMO_VISITOR)
    return visit


def seed(*, site: Site, stdout) -> None:
    key, origin = demo_reader_key()
    with transaction.atomic():
        door = _ensure_door(site)
        reader = _ensure_reader(site, door, key)
        issuer = Person.objects.select_related("user").get(user__username=DEMO_ISSUER, site=site)
        badges = _ensure_badges(site, issuer)
        _ensure_card(issuer)
        visit = _ensure_visit(site)
    stdout.write(f"  badges: door {door.slug} with reader {reader.slug}; {badges} digital badges; a card for outsider")
    stdout.write(f"  Reader {reader.slug} API key: {key}  ({origin})")
    if visit is not None:
        tz = site.tz
        stdout.write(
            f"  Visitor {visit.name} hosted by {DEMO_VISITOR_HOST}: "
            f"{visit.start.astimezone(tz):%Y-%m-%d %H:%M}-{visit.end.astimezone(tz):%H:%M} ({site.timezone})"
        )
