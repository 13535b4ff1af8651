"""Where a person's comfort data lies (labs.rights): their preferences and the commands applied for them."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from comfort.models import Command, Preference
from labs import rights
from labs.models import OutboxMessage, Person


def _export(person: Person):
    return [
        Preference.objects.filter(person=person),
        Command.objects.filter(acts_for=person).order_by("issued_at"),
    ]


def _erase(person: Person, pseudonym: str) -> None:
    """Preferences go; the commands sent for the person stop naming them, and the sent MQTT messages that carried
    them leave the outbox. (A desk they are checked in at returns to its defaults when bookings ends the booking.)"""
    Preference.objects.filter(person=person).delete()
    commands = Command.objects.filter(acts_for=person)
    cmd_ids = [str(c) for c in commands.values_list("cmd_id", flat=True)]
    for start in range(0, len(cmd_ids), 500):
        OutboxMessage.objects.filter(sent_at__isnull=False, payload__cmd_id__in=cmd_ids[start : start + 500]).delete()
    commands.update(acts_for=None)


def _history_purge(now) -> int:
    from comfort.services import comfort_history_purge

    return sum(comfort_history_purge(at=now).values())


SOURCE = rights.PersonalDataSource(
    name="comfort",
    export=_export,
    erase=_erase,
    order=60,
    title=gettext_lazy("Your office preferences and the settings sent to your desk and room"),
)


def register() -> None:
    rights.register_source(SOURCE)
    rights.register_purge("comfort.history", _history_purge)
