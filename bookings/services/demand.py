"""Unmet demand, recorded where it happens: a refused room booking (a conflict or a broken rule) and a room search
that found nothing for N people. Each adds one to a :class:`~bookings.models.DemandSignal` bucket (site, local day
and hour of the start wanted, size band, kind): no person, no booking, only counts.

A refusal raises inside the booking's own transaction, which rolls back; so the services record it *after* that
transaction, once per attempt. Outside any transaction the row is written at once (autocommit); inside a caller's
transaction (a caller that catches the refusal and goes on) it is written when that transaction commits, and not at
all if it rolls back: then the whole attempt was undone. The booking-create path on success runs none of this.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from bookings.choices import DemandKind, size_band
from bookings.models import DemandSignal, Room
from labs.errors import Conflict, DomainError, RuleViolation
from labs.models import Person, Site

logger = logging.getLogger(__name__)


def meeting_size(*, organiser: Person | None, attendees: Iterable[str]) -> int:
    """People in a meeting: the organiser and each distinct attendee (as the capacity rule counts them)."""
    emails = {a.strip().lower() for a in attendees if isinstance(a, str)}
    if organiser is not None:
        emails.discard((organiser.user.email or "").lower())
    return 1 + len(emails)


def _bump(*, site_id: int, day, hour: int, band: str, kind: str) -> None:
    bucket = {"site_id": site_id, "day": day, "hour": hour, "size_band": band, "kind": kind}
    if DemandSignal.objects.filter(**bucket).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            DemandSignal.objects.create(**bucket, count=1)
    except IntegrityError:  # created by a concurrent attempt meanwhile
        DemandSignal.objects.filter(**bucket).update(count=F("count") + 1)


def demand_signal_record(*, site: Site, start: datetime, people: int, kind: str) -> None:
    """Count one unmet wish for a room for ``people`` starting at ``start`` (see the module docstring)."""
    if kind not in DemandKind.values:
        raise ValueError(f"unknown demand kind {kind!r}")
    local = start.astimezone(site.tz)
    bucket = {
        "site_id": site.pk,
        "day": local.date(),
        "hour": local.hour,
        "band": size_band(max(1, people)),
        "kind": kind,
    }

    def write() -> None:
        try:
            _bump(**bucket)
        except Exception:  # a lost count must never turn a refusal into a 500
            logger.exception("could not record a demand signal %s", bucket)

    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(write)
    else:
        write()


def refusal_record(*, room: Room | None, start: datetime, people: int, error: DomainError) -> None:
    """Record a refused room booking attempt: conflicts and broken rules count, other errors (bad input, another
    person's booking) do not; desks are not rooms."""
    if room is None:
        return
    if isinstance(error, Conflict):
        kind = DemandKind.CONFLICT
    elif isinstance(error, RuleViolation):
        kind = DemandKind.RULE
    else:
        return
    demand_signal_record(site=room.site, start=start, people=people, kind=kind)


def empty_search_record(*, site: Site, start: datetime, people: int | None) -> None:
    """A room search for ``people`` (1 if not given) from ``start`` found no room."""
    demand_signal_record(site=site, start=start, people=people or 1, kind=DemandKind.EMPTY_SEARCH)


def records_refusals(service):
    """Decorate a room-booking service (keyword-only: ``actor``, ``room``, ``start``, ``organiser``, ``attendees``):
    a Conflict or RuleViolation it raises is counted as unmet demand, after the service's transaction, then re-raised.
    Outermost decorator, so a refusal after deadlock retries still counts once."""

    @functools.wraps(service)
    def wrapper(**kwargs):
        try:
            return service(**kwargs)
        except (Conflict, RuleViolation) as exc:
            people = meeting_size(
                organiser=kwargs.get("organiser") or kwargs.get("actor"), attendees=kwargs.get("attendees") or ()
            )
            refusal_record(room=kwargs.get("room"), start=kwargs["start"], people=people, error=exc)
            raise

    return wrapper
