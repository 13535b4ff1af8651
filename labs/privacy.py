"""The privacy registry: every personal-data field declares category, purpose, legal basis and retention.

The categories, purposes and legal bases are those of the operator's policy (shared/policy/PRIVACY.md). Each app
declares its models' fields beside the models with :func:`declare`; fields that look personal but are not (a room's
name) are exempted with :func:`not_personal` and a reason. :func:`undeclared_personal_fields` finds the gaps, and a
test fails on any. :func:`register` builds the record of processing activities from the declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import models


class Category(models.TextChoices):
    CONTACT_PROFESSIONAL = "contact_professional", "Contact and professional details"
    CONTACT_VERIFICATION = "contact_verification", "Contact and verification details"
    VISITOR_IDENTITY = "visitor_identity", "Name and email given by the visitor or the host"
    PAYMENT = "payment", "Payment details"
    CALENDAR = "calendar", "Email calendar data"
    OFFICE_PREFERENCES = "office_preferences", "Office preferences"
    OTHER = "other", "Other personal data (events, programmes, services used)"
    DEVICE_USAGE = "device_usage", "Device and usage data"


class Purpose(models.TextChoices):
    IDENTIFY_CONTACT = "identify_contact", "Identify and contact the person; notices and operational messages"
    ISSUE_BADGE = "issue_badge", "Issue a digital or physical access badge"
    COMMUNITY = "community", "Connect the person with the community"
    SECURITY = "security", "Protect against fraud, abuse or harm; verify identity; keep the site secure"
    PAYMENT = "payment", "Process a financial transaction the person asked for"
    BOOK_ROOMS = "book_rooms", "Book conference rooms and receive meeting notices"
    IMPROVE_OFFER = "improve_offer", "Analyse room bookings to improve the offer (aggregated)"
    TAILOR_WORKSPACE = "tailor_workspace", "Tailor the workspace: desk height, cooling, fan"
    DELIVER_SERVICES = "deliver_services", "Deliver services asked for through the booking and check-in tools"
    MARKETING = "marketing", "Tailor marketing (consent where required)"
    USAGE_STATISTICS = "usage_statistics", "Aggregated usage statistics; improve products and services"


class LegalBasis(models.TextChoices):
    CONTRACT = "contract", "Contract"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    CONSENT = "consent", "Consent"


@dataclass(frozen=True)
class PersonalData:
    """What one field holds about a person, why, on what basis and for how long."""

    category: Category
    purposes: tuple[Purpose, ...]
    legal_basis: LegalBasis
    retention: str
    retention_days: int | None = None  # days after the anchor event named in ``retention``; None: while needed
    roles: tuple[str, ...] = ("all",)

    def as_dict(self) -> dict:
        return {
            "category": self.category.value,
            "category_label": self.category.label,
            "purposes": [{"code": p.value, "label": p.label} for p in self.purposes],
            "legal_basis": self.legal_basis.value,
            "retention": self.retention,
            "retention_days": self.retention_days,
            "roles": list(self.roles),
        }


@dataclass
class _ModelEntry:
    fields: dict[str, PersonalData] = field(default_factory=dict)
    exempt: dict[str, str] = field(default_factory=dict)


_REGISTRY: dict[str, _ModelEntry] = {}

# Field names that suggest personal data: a field matching one must be declared or exempted with a reason.
PERSONAL_NAME_PATTERN = re.compile(
    r"(^|_)(name|email|phone|mobile|address|card|uid|badge|code|secret|token|note|notes|comment|bio|title|"
    r"description|ip|birth|attendees|value|username)($|_)"
)


def _label(model) -> str:
    return model if isinstance(model, str) else model._meta.label


def declare(model, **fields: PersonalData) -> None:
    """Declare personal-data fields of ``model`` (a model class or ``"app.Model"`` label)."""
    entry = _REGISTRY.setdefault(_label(model), _ModelEntry())
    entry.fields.update(fields)


def not_personal(model, **reasons: str) -> None:
    """Exempt fields whose names look personal but hold no personal data, each with the reason why."""
    entry = _REGISTRY.setdefault(_label(model), _ModelEntry())
    entry.exempt.update(reasons)


def personal_data(**fields: PersonalData):
    """Class decorator form of :func:`declare`, to keep the declaration beside the model."""

    def decorate(cls):
        declare(f"{cls.__module__.split('.')[0]}.{cls.__name__}", **fields)
        return cls

    return decorate


def declaration_for(model, field_name: str) -> PersonalData | None:
    entry = _REGISTRY.get(_label(model))
    return entry.fields.get(field_name) if entry else None


def looks_personal(model_field: models.Field) -> bool:
    if model_field.auto_created or model_field.is_relation and not model_field.many_to_many:
        return False
    if isinstance(model_field, models.TextField | models.GenericIPAddressField | models.EmailField):
        return True
    return bool(PERSONAL_NAME_PATTERN.search(model_field.name))


def undeclared_personal_fields(models_to_check) -> list[str]:
    """Return ``"app.Model.field"`` for every field that looks personal and is neither declared nor exempt."""
    missing = []
    for model in models_to_check:
        entry = _REGISTRY.get(model._meta.label, _ModelEntry())
        for model_field in model._meta.get_fields():
            if not getattr(model_field, "concrete", False) and not model_field.many_to_many:
                continue
            if not looks_personal(model_field):
                continue
            if model_field.name in entry.fields or model_field.name in entry.exempt:
                continue
            missing.append(f"{model._meta.label}.{model_field.name}")
    return missing


def unknown_declarations(models_to_check) -> list[str]:
    """Declarations naming a field the model does not have (typos, removed fields)."""
    stale = []
    by_label = {m._meta.label: m for m in models_to_check}
    for label, entry in _REGISTRY.items():
        model = by_label.get(label)
        if model is None:
            continue
        names = {f.name for f in model._meta.get_fields()}
        stale += [f"{label}.{name}" for name in [*entry.fields, *entry.exempt] if name not in names]
    return stale


def register() -> list[dict]:
    """The record of processing activities: one row per declared field."""
    rows = []
    for label in sorted(_REGISTRY):
        for name, decl in sorted(_REGISTRY[label].fields.items()):
            rows.append({"model": label, "field": name, **decl.as_dict()})
    return rows
