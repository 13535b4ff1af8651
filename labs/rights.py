"""Data-subject rights across apps: each app says where a person's data lies, for export and for erasure.

The privacy registry (:mod:`labs.privacy`) says what every personal field *is*; this module says where one person's
rows *are*. Each app registers, in its ``AppConfig.ready``, one :class:`PersonalDataSource`:

- ``export(person)`` returns the model instances that hold the person's data (querysets or lists). The export renders
  every declared field of each instance with its value and declaration, so an app adds no per-field code and a new
  declared field is exported without anyone remembering to.
- ``erase(person, pseudonym)`` removes or pseudonymises those rows. It runs inside the erasure's transaction, after the
  credentials are revoked; what the law requires to keep stays, with ``pseudonym`` in place of the person's
  identifiers.

Sources run in registration order; ``labs`` itself (the person and the account) is erased last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db import models

    from labs.models import Person


@dataclass(frozen=True)
class PersonalDataSource:
    name: str  # the export's section, e.g. "bookings"
    export: Callable[[Person], Iterable[Iterable[models.Model]]]
    erase: Callable[[Person, str], None]
    order: int = 100  # lower runs first; the person's own record is erased last (order 1000)


_sources: dict[str, PersonalDataSource] = {}


def register_source(source: PersonalDataSource) -> None:
    """Register (or replace, so that ``ready`` may run twice) the source named ``source.name``."""
    _sources[source.name] = source


def sources() -> list[PersonalDataSource]:
    return sorted(_sources.values(), key=lambda s: (s.order, s.name))
