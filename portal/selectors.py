"""Reads behind the portal's own pages (the dashboard); each area's pages use their app's selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from labs.choices import COMPANY_ROLES
from labs.models import Person
from labs.permissions import scope_queryset
from portal.navigation import Area, areas_for

# How many colleagues the dashboard names; the rest are counted.
COLLEAGUES_SHOWN = 8


@dataclass
class Dashboard:
    person: Person | None
    local_now: datetime | None = None
    colleagues: list[Person] = field(default_factory=list)
    colleague_count: int = 0
    cards: list[Area] = field(default_factory=list)
    usual_desk: object = None  # a suggestion from past bookings, only with the personalisation consent

    @property
    def more_colleagues(self) -> int:
        return self.colleague_count - len(self.colleagues)


def dashboard_cards(*, person: Person | None) -> list[Area]:
    """The areas with a dashboard card that ``person`` may see."""
    return [area for area in areas_for(person) if area.card]


def colleagues_of(*, person: Person) -> tuple[list[Person], int]:
    """The other people of ``person``'s company (never another company's), the first few and how many there are."""
    if person.company_id is None or person.role not in COMPANY_ROLES:
        return [], 0
    people = (
        scope_queryset(Person.objects.all(), person, company_field="company")
        .filter(company_id=person.company_id, user__is_active=True)
        .exclude(pk=person.pk)
        .select_related("user")
    )
    return list(people[:COLLEAGUES_SHOWN]), people.count()


def dashboard_for(*, person: Person | None) -> Dashboard:
    if person is None:
        return Dashboard(person=None, cards=[])
    colleagues, count = colleagues_of(person=person)
    return Dashboard(
        person=person,
        local_now=timezone.localtime(timezone.now(), person.site.tz),
        colleagues=colleagues,
        colleague_count=count,
        cards=dashboard_cards(person=person),
        usual_desk=usual_desk_suggestion(person=person),
    )


def usual_desk_suggestion(*, person: Person):
    """The desk the person books most, suggested on the dashboard: personalisation, so only with that consent (no
    consent: not even computed)."""
    from bookings.selectors import usual_desk_for
    from labs.models import ConsentPurpose
    from labs.services_privacy import consent_given

    if not consent_given(person=person, purpose=ConsentPurpose.PERSONALISATION):
        return None
    return usual_desk_for(person=person)
