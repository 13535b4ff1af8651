"""Reads behind the portal's own pages (the dashboard); each area's pages use their app's selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from labs.choices import COMPANY_ROLES
from labs.models import Person
from labs.permissions import is_host, is_staff, scope_queryset

# How many colleagues the dashboard names; the rest are counted.
COLLEAGUES_SHOWN = 8


@dataclass(frozen=True)
class Card:
    """A capability on the dashboard. It links to its area once one of ``url_names`` exists."""

    key: str
    title: str
    text: str
    url_names: tuple[str, ...]
    icon: str
    hosts_only: bool = False
    staff_only: bool = False


# The capabilities of the product, in the order the dashboard shows them. An area's pages light up their card by
# registering one of these URL names in their portal/urls_<area>.py.
CARDS = [
    Card(
        "bookings",
        "Bookings",
        "Book a desk or a meeting room and see what you have booked.",
        ("portal:my-bookings", "portal:bookings", "portal:rooms"),
        "calendar",
    ),
    Card(
        "workspace",
        "My workspace",
        "Desk height, temperature and fan: set them once, find them at any desk you check in to.",
        ("portal:workspace", "portal:comfort", "portal:preferences"),
        "sliders",
    ),
    Card(
        "badge",
        "My badge",
        "Your digital access badge and its rotating QR code.",
        ("portal:badge", "portal:my-badge", "portal:badges"),
        "badge",
    ),
    Card(
        "visitors",
        "Visitors",
        "Register a guest; they get a badge valid only around the visit.",
        ("portal:visitors", "portal:visits", "portal:visit-list"),
        "people",
        hosts_only=True,
    ),
]


@dataclass(frozen=True)
class CardLink:
    card: Card
    url: str | None  # None while the area is not built yet


@dataclass
class Dashboard:
    person: Person | None
    local_now: datetime | None = None
    colleagues: list[Person] = field(default_factory=list)
    colleague_count: int = 0
    cards: list[CardLink] = field(default_factory=list)

    @property
    def more_colleagues(self) -> int:
        return self.colleague_count - len(self.colleagues)


def _first_url(url_names: tuple[str, ...]) -> str | None:
    for name in url_names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def dashboard_cards(*, person: Person | None) -> list[CardLink]:
    links = []
    for card in CARDS:
        if card.hosts_only and not is_host(person):
            continue
        if card.staff_only and not is_staff(person):
            continue
        links.append(CardLink(card=card, url=_first_url(card.url_names)))
    return links


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
    )
