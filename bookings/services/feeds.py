"""Private iCalendar feed tokens (only their digest is stored)."""

from __future__ import annotations

import logging
import secrets

from django.db import transaction

from bookings.models import CalendarFeed
from labs.models import Person

logger = logging.getLogger(__name__)


def calendar_feed_token_digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_regenerate(*, person: Person) -> str:
    """Create or replace the person's private feed token; returns the token (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(person=person, defaults={"token_digest": calendar_feed_token_digest(token)})
    return token


def calendar_feed_revoke(*, person: Person) -> None:
    CalendarFeed.objects.filter(person=person).delete()
