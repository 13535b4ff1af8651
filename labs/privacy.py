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


# The policy's rows (the first column of PRIVACY.md's table) and the category that carries each: the record of
# processing is checked against the policy through this map (tests/labs/test_privacy_register.py).
POLICY_ROWS: dict[str, Category] = {
    "contact and professional details": Category.CONTACT_PROFESSIONAL,
    "contact and verification details": Category.CONTACT_VERIFICATION,
    "name and email (given by the visitor or by the host)": Category.VISITOR_IDENTITY,
    "payment details, where relevant": Category.PAYMENT,
    "email calendar data (integration with the company's email calendar)": Category.CALENDAR,
    "office preferences": Category.OFFICE_PREFERENCES,
    "other personal data, e.g. events and accelerator programmes attended": Category.OTHER,
    "device and usage data and other personal data": Category.DEVICE_USAGE,
}


@dataclass
class _ModelEntry:
    fields: dict[str, PersonalData] = field(default_factory=dict)
    exempt: dict[str, str] = field(default_factory=dict)
    planned: str = ""  # declared before its model exists: why, and when it will (see declare_planned)


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


def declare_planned(label: str, note: str, **fields: PersonalData) -> None:
    """Declare processing the policy promises before the product does it (``"app.Model"`` of the model to come).

    The entry is in the record of processing, marked planned with ``note``; once a model with that label exists, the
    same declarations apply to it and the field checks cover it like any other.
    """
    entry = _REGISTRY.setdefault(label, _ModelEntry())
    entry.fields.update(fields)
    entry.planned = note


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


def declarations_for(model) -> dict[str, PersonalData]:
    """Every declared field of ``model``, by field name (empty for a model without declarations)."""
    entry = _REGISTRY.get(_label(model))
    return dict(entry.fields) if entry else {}


def declared_labels() -> list[str]:
    return sorted(label for label, entry in _REGISTRY.items() if entry.fields)


def is_planned(label: str) -> bool:
    entry = _REGISTRY.get(label)
    return bool(entry and entry.planned)


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


def register_fields() -> list[dict]:
    """Every declared field, one row each, with its declaration (and ``planned``: the note of a model to come)."""
    rows = []
    for label in sorted(_REGISTRY):
        entry = _REGISTRY[label]
        for name, decl in sorted(entry.fields.items()):
            rows.append({"model": label, "field": name, **decl.as_dict(), "planned": entry.planned})
    return rows


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def register() -> list[dict]:
    """The record of processing activities (GDPR Art. 30): one entry per category of the policy, in its order.

    Each entry gathers the roles, purposes, legal bases and retention periods of the category's declared fields, and
    the fields themselves (``app.Model.field``); ``planned`` lists the fields declared before their model exists.
    A category no field declares is still listed, with no fields, so a gap shows (and a test fails on it).
    """
    policy_row_of = {category: row for row, category in POLICY_ROWS.items()}
    by_category: dict[str, list[dict]] = {c.value: [] for c in Category}
    for row in register_fields():
        by_category[row["category"]].append(row)
    entries = []
    for category in Category:
        rows = by_category[category.value]
        roles = _unique(role for row in rows for role in row["roles"])
        entries.append(
            {
                "category": category.value,
                "category_label": category.label,
                "policy_row": policy_row_of.get(category, ""),
                "roles": ["all"] if "all" in roles else roles,
                "purpose": _unique(p["label"] for row in rows for p in row["purposes"]),
                "purposes": _unique(p["code"] for row in rows for p in row["purposes"]),
                "legal_basis": _unique(row["legal_basis"] for row in rows),
                "retention": _unique(f"{row['model']}.{row['field']}: {row['retention']}" for row in rows),
                "fields": [f"{row['model']}.{row['field']}" for row in rows],
                "planned": [f"{row['model']}.{row['field']}: {row['planned']}" for row in rows if row["planned"]],
            }
        )
    return entries


def register_markdown() -> str:
    """The record of processing as a Markdown document (the admin's download)."""
    lines = ["# Record of processing activities", "", "Generated from the privacy declarations in the code.", ""]
    for entry in register():
        lines += [
            f"## {entry['category_label']}",
            "",
            f"- Policy row: {entry['policy_row'] or '-'}",
            f"- Roles: {', '.join(entry['roles']) or '-'}",
            f"- Purposes: {'; '.join(entry['purpose']) or '-'}",
            f"- Legal basis: {', '.join(LegalBasis(b).label for b in entry['legal_basis']) or '-'}",
            "",
            "| field | retention |",
            "| --- | --- |",
        ]
        lines += [f"| `{r.split(': ', 1)[0]}` | {r.split(': ', 1)[1]} |" for r in entry["retention"]]
        lines += [f"| planned: `{p.split(': ', 1)[0]}` | {p.split(': ', 1)[1]} |" for p in entry["planned"]]
        lines.append("")
    return "\n".join(lines)


def register_csv() -> str:
    """The record of processing as CSV, one line per declared field (the admin's download)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["category", "field", "roles", "purposes", "legal_basis", "retention", "retention_days", "planned"])
    for row in register_fields():
        writer.writerow(
            [
                row["category_label"],
                f"{row['model']}.{row['field']}",
                " ".join(row["roles"]),
                "; ".join(p["label"] for p in row["purposes"]),
                row["legal_basis"],
                row["retention"],
                "" if row["retention_days"] is None else row["retention_days"],
                row["planned"],
            ]
        )
    return out.getvalue()
