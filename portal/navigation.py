"""The portal's areas, in one registry: the navigation on every page and the dashboard's cards both read it.

An area is listed once, with who may see it. An area with a ``card`` text also gets a card on the dashboard. Add an
area here when its pages exist (its ``url_name`` must resolve: a test checks every entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from labs.models import Person
from labs.permissions import is_host, is_staff


@dataclass(frozen=True)
class Area:
    key: str
    label: str
    url_name: str
    icon: str = ""
    card: str = ""  # the dashboard card's text; empty: no card
    staff_only: bool = False
    hosts_only: bool = False

    @property
    def url(self) -> str:
        return reverse(self.url_name)

    def visible_to(self, person: Person | None) -> bool:
        if self.staff_only and not is_staff(person):
            return False
        return not (self.hosts_only and not is_host(person))


AREAS = [
    Area("dashboard", "Dashboard", "portal:dashboard"),
    Area("rooms", "Rooms", "portal:rooms"),
    Area("desks", "Desks", "portal:desks"),
    Area(
        "bookings",
        "My bookings",
        "portal:my-bookings",
        icon="calendar",
        card="Book a desk or a meeting room and see what you have booked.",
    ),
    Area(
        "workspace",
        "My workspace",
        "portal:workspace",
        icon="sliders",
        card="Desk height, temperature and fan: set them once, find them at any desk you check in to.",
    ),
    Area(
        "calendar",
        "My calendar",
        "portal:my-calendar",
        icon="calendar",
        card="Connect your company calendar: see your room bookings in it, book rooms from it.",
    ),
    Area("badge", "My badge", "portal:badge", icon="badge", card="Your digital access badge and its rotating QR code."),
    Area(
        "visitors",
        "Visitors",
        "portal:visitors",
        icon="people",
        card="Register a guest; they get a badge valid only around the visit.",
        hosts_only=True,
    ),
    Area(
        "community",
        "Community",
        "portal:community",
        icon="people",
        card="Members and mentors who chose to be listed here.",
    ),
    Area(
        "my-data",
        "My data",
        "portal:my-data",
        icon="shield",
        card="Download your data, choose what you consent to, change your password or erase your account.",
    ),
    Area("reception", "Reception", "portal:reception", staff_only=True),
    Area(
        "analytics",
        "Analytics",
        "portal:analytics",
        icon="chart",
        card="How the rooms are used, what people could not book, and what to change.",
        staff_only=True,
    ),
    Area("calendars", "Calendars", "portal:calendars", staff_only=True),
]


def areas_for(person: Person | None) -> list[Area]:
    return [area for area in AREAS if area.visible_to(person)]
