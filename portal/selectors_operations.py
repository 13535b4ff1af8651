"""Reads behind the operator's view (``/operations/``): one site's day at a glance, and finding a person.

Everything is scoped to the staff member's own site: a person, a booking or a device of another site is never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from badges.models import Badge, Visit
from bookings.choices import HOLDING_STATUSES, BookingStatus
from bookings.models import Booking, Desk, Room
from calendars.models import Connection, RoomCalendar
from comfort.models import Device
from labs.models import Person, Site

PEOPLE_SHOWN = 25
LIST_SHOWN = 8


def _day_bounds(day: date, site: Site) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=site.tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=site.tz)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Operations:
    site: Site
    now: datetime
    day: date
    desks_total: int = 0
    desks_booked_today: int = 0
    desks_in_use_now: int = 0
    rooms_total: int = 0
    rooms_in_use_now: int = 0
    visits_expected: int = 0
    visits_arrived: int = 0
    next_arrivals: list[Visit] = field(default_factory=list)
    devices_total: int = 0
    devices_offline: list[Device] = field(default_factory=list)
    devices_offline_count: int = 0
    sync_errors: list[RoomCalendar] = field(default_factory=list)
    connection_errors: list[Connection] = field(default_factory=list)

    @property
    def desk_occupancy(self) -> float | None:
        return _share(self.desks_booked_today, self.desks_total)

    @property
    def desk_percent(self) -> int:
        return round((self.desk_occupancy or 0) * 100)

    @property
    def room_occupancy(self) -> float | None:
        return _share(self.rooms_in_use_now, self.rooms_total)

    @property
    def sync_error_count(self) -> int:
        return len(self.sync_errors) + len(self.connection_errors)


def operations_for(*, site: Site, now: datetime | None = None) -> Operations:
    now = now or timezone.now()
    day = now.astimezone(site.tz).date()
    start, end = _day_bounds(day, site)
    view = Operations(site=site, now=now, day=day)

    holding = Booking.objects.filter(site=site, status__in=HOLDING_STATUSES)
    today = holding.filter(start__lt=end, end__gt=start)
    current = holding.filter(start__lte=now, end__gt=now)
    view.desks_total = Desk.objects.filter(site=site, is_active=True).count()
    view.desks_booked_today = today.filter(desk__isnull=False).values("desk").distinct().count()
    view.desks_in_use_now = (
        current.filter(desk__isnull=False, status=BookingStatus.CHECKED_IN).values("desk").distinct().count()
    )
    view.rooms_total = Room.objects.filter(site=site, is_active=True).count()
    view.rooms_in_use_now = current.filter(room__isnull=False).values("room").distinct().count()

    visits = Visit.objects.filter(site=site, start__lt=end, end__gt=start, cancelled_at=None)
    view.visits_arrived = visits.filter(checked_in_at__isnull=False).count()
    expected = visits.filter(checked_in_at=None, checked_out_at=None, end__gt=now)
    view.visits_expected = expected.count()
    view.next_arrivals = list(expected.select_related("host__user").order_by("start")[:LIST_SHOWN])

    devices = Device.objects.filter(site=site, is_active=True)
    view.devices_total = devices.count()
    offline = devices.filter(online=False).select_related("desk", "zone").order_by("last_seen_at", "device_id")
    view.devices_offline_count = offline.count()
    view.devices_offline = list(offline[:LIST_SHOWN])

    view.sync_errors = list(
        RoomCalendar.objects.filter(connection__site=site)
        .filter(~Q(last_error="") | ~Q(watch_error=""))
        .select_related("room", "connection")
        .order_by("-last_error_at")[:LIST_SHOWN]
    )
    view.connection_errors = list(Connection.objects.filter(site=site).exclude(last_error="").order_by("name"))
    return view


def people_search(*, site: Site, query: str) -> QuerySet[Person]:
    """People of one site whose name, username or email contains every word of ``query``."""
    people = Person.objects.select_related("user", "company").filter(site=site)
    words = query.split()[:5]
    if not words:
        return people.none()
    for word in words:
        people = people.filter(
            Q(user__first_name__icontains=word)
            | Q(user__last_name__icontains=word)
            | Q(user__username__icontains=word)
            | Q(user__email__icontains=word)
        )
    return people.order_by("user__last_name", "user__first_name")


@dataclass
class PersonOverview:
    person: Person
    upcoming: list[Booking]
    recent: list[Booking]
    badges: list[Badge]


def person_overview(*, person: Person, now: datetime | None = None) -> PersonOverview:
    now = now or timezone.now()
    bookings = Booking.objects.filter(organiser=person).select_related("room", "desk", "site")
    return PersonOverview(
        person=person,
        upcoming=list(bookings.filter(end__gt=now).order_by("start")[:20]),
        recent=list(bookings.filter(end__lte=now).order_by("-start")[:10]),
        badges=list(Badge.objects.filter(person=person).order_by("-issued_at")[:10]),
    )
