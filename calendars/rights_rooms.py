"""Room calendars' data that names a person (labs.rights): events on a linked room's calendar organised by them.

(Personal calendar connections register their own source.)"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy

from calendars.models import EventLink
from labs import privacy, rights
from labs.models import Person


def _links(person: Person):
    email = (person.user.email or "").strip()
    return EventLink.objects.filter(organiser_email__iexact=email) if email else EventLink.objects.none()


def _export(person: Person):
    return [_links(person).order_by("start")]


def _erase(person: Person, pseudonym: str) -> None:
    _links(person).update(organiser_email="")


def _events_purge(now) -> int:
    """An event's organiser and reason are cleared their declared days after it ended."""
    days = privacy.declaration_for(EventLink, "organiser_email").retention_days
    stale = EventLink.objects.filter(end__lt=now - timedelta(days=days)).exclude(organiser_email="", reason="")
    return stale.update(organiser_email="", reason="")


SOURCE = rights.PersonalDataSource(
    name="room_calendars",
    export=_export,
    erase=_erase,
    order=80,
    title=gettext_lazy("Meetings you organised in the rooms' calendars"),
)


def register() -> None:
    rights.register_source(SOURCE)
    rights.register_purge("calendars.room_events", _events_purge)
