"""The portal's areas, in one registry: the navigation on every page and the dashboard's cards both read it.

An area is listed once, with who may see it. An area with a ``card`` text also gets a card on the dashboard. Add an
area here when its pages exist (its ``url_name`` must resolve: a test checks every entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from labs.models import Person
from labs.permissions import is_host, is_staff


@dataclass(frozen=True)
class Area:
    key: str
    label: str  # lazy translations: the active language decides at render time
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
    Area("dashboard", _("Dashboard"), "portal:dashboard"),
    Area(
        "operations",
        _("Operations"),
        "portal:operations",
        icon="pin",
        card=_("Today at your site: occupancy, arrivals, devices offline, calendar sync errors; find a person."),
        staff_only=True,
    ),
    Area("rooms", _("Rooms"), "portal:rooms"),
    Area("desks", _("Desks"), "portal:desks"),
    Area(
        "bookings",
        _("My bookings"),
        "portal:my-bookings",
        icon="calendar",
        card=_("Book a desk or a meeting room and see what you have booked."),
    ),
    Area(
        "workspace",
        _("My workspace"),
        "portal:workspace",
        icon="sliders",
        card=_("Desk height, temperature and fan: set them once, find them at any desk you check in to."),
    ),
    Area(
        "badge",
        _("My badge"),
        "portal:badge",
        icon="badge",
        card=_("Your digital access badge and its rotating QR code."),
    ),
    Area(
        "calendar",
        _("My calendar"),
        "portal:my-calendar",
        icon="calendar",
        card=_("Connect your company calendar: see your room bookings in it, book rooms from it."),
    ),
    Area(
        "visitors",
        _("Visitors"),
        "portal:visitors",
        icon="people",
        card=_("Register a guest; they get a badge valid only around the visit."),
        hosts_only=True,
    ),
    Area(
        "community",
        _("Community"),
        "portal:community",
        icon="people",
        card=_("Members and mentors who chose to be listed here."),
    ),
    Area(
        "my-data",
        _("My data"),
        "portal:my-data",
        icon="shield",
        card=_("Download your data, choose what you consent to, change your password or erase your account."),
    ),
    Area("reception", _("Reception"), "portal:reception", staff_only=True),
    Area(
        "analytics",
        _("Analytics"),
        "portal:analytics",
        icon="chart",
        card=_("How the rooms are used, what people could not book, and what to change."),
        staff_only=True,
    ),
    Area("calendars", _("Calendars"), "portal:calendars", staff_only=True),
]


def areas_for(person: Person | None) -> list[Area]:
    return [area for area in AREAS if area.visible_to(person)]
