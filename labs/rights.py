"""Data-subject rights across apps: each app says where a person's data lies, for export and for erasure.

The privacy registry (:mod:`labs.privacy`) says what every personal field *is*; this module says where one person's
rows *are*. Each app registers, in its ``AppConfig.ready``, one :class:`PersonalDataSource`:

- ``export(person)`` returns the model instances that hold the person's data (querysets or lists). The export renders
  every declared field of each instance with its value and declaration, so an app adds no per-field code and a new
  declared field is exported without anyone remembering to.
- ``erase(person, pseudonym)`` removes or pseudonymises those rows. It runs inside the erasure's transaction, after the
  credentials are revoked; what the law requires to keep stays, with ``pseudonym`` in place of the person's
  identifiers.

Sources run in ``order``; ``labs`` itself (the person and the account) is erased last. A source may also give
``render`` (to show a row's field differently in this person's export, or leave it out with :data:`OMIT`: e.g. a
colleague's booking the person attends shows only that they attend) and ``kept`` (what the law requires to keep after
erasure, pseudonymised: the export lists it, so the person knows before they erase).

:func:`export_person` builds the export (``GET /api/v1/me/export/``); ``labs.services_privacy.person_erase`` runs the
erasure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from labs import privacy

if TYPE_CHECKING:
    from django.db import models

    from labs.models import Person


@dataclass(frozen=True)
class PersonalDataSource:
    name: str  # the export's section, e.g. "bookings": a stable key of the JSON export
    export: Callable[[Person], Iterable[Iterable[models.Model]]]
    erase: Callable[[Person, str], None]
    order: int = 100  # lower runs first; the person's own record is erased last (order 1000)
    render: Callable[[Person, models.Model, str, Any], Any] | None = None
    kept: str = ""  # what stays after erasure (pseudonymised) and why; empty: nothing. gettext_lazy: people read it
    title: str = ""  # the section as the person reads it ("Your bookings"), gettext_lazy; empty: ``name``

    @property
    def label(self) -> str:
        return str(self.title or self.name)


OMIT = object()  # returned by a source's ``render``: leave the field out of this person's export
# Credentials are listed (the person may know they exist) but never shown, not even to their holder.
CREDENTIAL_FIELDS = frozenset({"password", "secret", "key", "token_digest", "card_uid_digest", "key_digest"})
HIDDEN = "[a credential: held, not shown]"


_sources: dict[str, PersonalDataSource] = {}


def register_source(source: PersonalDataSource) -> None:
    """Register (or replace, so that ``ready`` may run twice) the source named ``source.name``."""
    _sources[source.name] = source


def sources() -> list[PersonalDataSource]:
    return sorted(_sources.values(), key=lambda s: (s.order, s.name))


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return HIDDEN
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def render_instance(person: Person, source: PersonalDataSource, instance: models.Model) -> dict:
    """One row of the export: every declared field of ``instance`` with its value and its declaration."""
    fields = {}
    for name, declaration in sorted(privacy.declarations_for(type(instance)).items()):
        model_field = instance._meta.get_field(name)
        raw = getattr(instance, model_field.attname, None)
        value = HIDDEN if name in CREDENTIAL_FIELDS and raw not in (None, "", b"") else _json_value(raw)
        if source.render is not None:
            value = source.render(person, instance, name, value)
            if value is OMIT:
                continue
        fields[name] = {"value": value, **declaration.as_dict()}
    return {"model": instance._meta.label, "id": instance.pk, "fields": fields}


def export_person(person: Person) -> dict:
    """Everything held about ``person``, one section per source (GDPR Art. 15 and 20)."""
    sections = {}
    for source in sources():
        rows = []
        for group in source.export(person):
            rows += [render_instance(person, source, instance) for instance in group]
        sections[source.name] = rows
    return {
        "person": person.pk,
        "generated_at": timezone.now().isoformat(),
        "sections": sections,
        "kept_after_erasure": {s.name: str(s.kept) for s in sources() if s.kept},
    }


def section_titles() -> dict[str, str]:
    """Each export section's name and its title in the active language (the portal shows titles, not keys)."""
    return {source.name: source.label for source in sources()}


# --- Retention: each app registers the purges that enforce its declarations' retention_days ----------------------

_purges: dict[str, Callable[[dt.datetime], int]] = {}


def register_purge(name: str, purge: Callable[[dt.datetime], int]) -> None:
    """``purge(now)`` deletes (or clears) what is past its declared retention at ``now`` and returns how many rows;
    it must be idempotent. ``labs.services_privacy.retention_purge`` (one beat task) runs them all."""
    _purges[name] = purge


def purges() -> list[tuple[str, Callable[[dt.datetime], int]]]:
    return sorted(_purges.items())
