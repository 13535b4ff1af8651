"""Every non-trivial read of bookings: free rooms and desks, a resource's day, a person's bookings, presence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from bookings import db
from bookings.choices import BookingStatus
from bookings.models import Booking, Closure, Desk, Room
from labs.models import Person, Site, Zone
from labs.permissions import scope_queryset
from labs.prepared import CompiledLookup

_MINUTE = Value(timedelta(minutes=1))


def _plus_minutes(moment: datetime, minutes) -> ExpressionWrapper:
    """``moment`` plus an SQL number of minutes (PostgreSQL)."""
    return ExpressionWrapper(Value(moment) + Cast(minutes, IntegerField()) * _MINUTE, output_field=DateTimeField())


def _busy_room_ids(free_from: datetime, free_to: datetime, buffer_minutes: int | None = None) -> QuerySet:
    """Ids of rooms a booking of [free_from, free_to) would overlap, its room's buffer included.

    PostgreSQL: one scan of the ``booking_room_held_gist`` index up to ``free_to`` plus the largest buffer (a scalar
    subquery, computed once), then the exact per-room buffer on the few rows found. SQLite: for one buffer length.
    """
    rooms = Booking.objects.filter(room__isnull=False)
    if db.uses_ranges():
        largest = RawSQL("(SELECT coalesce(max(buffer_minutes), 0) FROM bookings_room)", [])
        rooms = rooms.filter(db.held_range_overlaps(free_from, _plus_minutes(free_to, largest)))
        rooms = rooms.filter(start__lt=_plus_minutes(free_to, F("room__buffer_minutes")))
    else:
        rooms = rooms.filter(db.held_overlaps(free_from, free_to + timedelta(minutes=buffer_minutes or 0)))
    return rooms.order_by().values("room_id")


def _amenity_filter(queryset: QuerySet, amenities: list[str]) -> QuerySet:
    for amenity in amenities:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(amenities__contains=[amenity])
        else:  # SQLite has no JSON containment: match the quoted element in the JSON text
            queryset = queryset.filter(amenities__icontains=f'"{amenity}"')
    return queryset


def room_search(
    *,
    site: Site | None = None,
    capacity_min: int | None = None,
    amenities: list[str] | None = None,
    floor_level: int | None = None,
    free_from: datetime | None = None,
    free_to: datetime | None = None,
    queryset: QuerySet[Room] | None = None,
) -> QuerySet[Room]:
    """Active rooms matching the filters; with a window, only rooms a booking of the whole window would fit.

    One query: the rooms ``NOT IN`` the rooms of holding bookings overlapping the window, found with one scan of a
    GiST range index (PostgreSQL; the (room, start, hold_end) index on SQLite).
    """
    rooms = (queryset if queryset is not None else Room.objects.all()).filter(is_active=True)
    if site is not None:
        rooms = rooms.filter(site=site)
    if capacity_min:
        rooms = rooms.filter(capacity__gte=capacity_min)
    if floor_level is not None:
        rooms = rooms.filter(floor__level=floor_level)
    rooms = _amenity_filter(rooms, amenities or [])
    if free_from is not None and free_to is not None:
        if db.uses_ranges():
            rooms = rooms.exclude(pk__in=_busy_room_ids(free_from, free_to))
        else:  # SQLite cannot add a column of minutes to a datetime: one branch per buffer length in use
            buffers = Room.objects.order_by().values_list("buffer_minutes", flat=True).distinct()
            condition = Q(pk__in=[])
            for minutes in buffers:
                condition |= Q(buffer_minutes=minutes) & ~Q(pk__in=_busy_room_ids(free_from, free_to, minutes))
            rooms = rooms.filter(condition)
    return rooms.select_related("site", "floor")


def desk_search(
    *,
    site: Site | None = None,
    floor_level: int | None = None,
    zone: Zone | None = None,
    amenities: list[str] | None = None,
    free_from: datetime | None = None,
    free_to: datetime | None = None,
    queryset: QuerySet[Desk] | None = None,
) -> QuerySet[Desk]:
    """Active desks matching the filters; with a window, only desks free for all of it (one query)."""
    desks = (queryset if queryset is not None else Desk.objects.all()).filter(is_active=True)
    if site is not None:
        desks = desks.filter(site=site)
    if floor_level is not None:
        desks = desks.filter(floor__level=floor_level)
    if zone is not None:
        desks = desks.filter(zone=zone)
    desks = _amenity_filter(desks, amenities or [])
    if free_from is not None and free_to is not None:
        overlap = db.held_range_overlaps if db.uses_ranges() else db.held_overlaps
        busy = Booking.objects.filter(overlap(free_from, free_to), desk__isnull=False)
        desks = desks.exclude(pk__in=busy.order_by().values("desk_id"))
    return desks.select_related("site", "floor", "zone")


@dataclass(frozen=True)
class BusyInterval:
    start: datetime
    end: datetime
    held_until: datetime
    mine: bool
    booking_id: int | None  # only for the viewer's own bookings


def local_day_bounds(day: date, tz) -> tuple[datetime, datetime]:
    """The UTC instants bounding a local calendar day (23 or 25 hours long on a DST change)."""
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
    )


def resource_busy_intervals(
    *, room: Room | None = None, desk: Desk | None = None, day: date, viewer: Person | None = None
) -> list[BusyInterval]:
    """Busy intervals of one room or desk over a local day; who booked is not shown, except to the booker."""
    resource = room or desk
    start, end = local_day_bounds(day, resource.site.tz)
    holds = Booking.objects.filter(db.held_overlaps(start, end))
    holds = holds.filter(room=room) if room is not None else holds.filter(desk=desk)
    rows = holds.order_by("start").values_list("pk", "start", "end", "hold_end", "organiser_id")
    viewer_id = viewer.pk if viewer else None
    return [
        BusyInterval(start=s, end=e, held_until=h, mine=o == viewer_id, booking_id=pk if o == viewer_id else None)
        for pk, s, e, h, o in rows
    ]


def booking_list_for(*, person: Person | None, queryset: QuerySet[Booking] | None = None) -> QuerySet[Booking]:
    """The bookings ``person`` may see: their own; staff see every booking of their site."""
    bookings = queryset if queryset is not None else Booking.objects.all()
    return scope_queryset(
        bookings.select_related("site", "room__floor", "desk__zone", "organiser__user", "series"),
        person,
        owner_field="organiser",
        site_field="site",
    )


def usual_desk_for(*, person: Person, now: datetime | None = None, weeks: int = 8) -> Desk | None:
    """The desk ``person`` booked most in the last ``weeks`` (at least twice), for the portal's suggestion. Callers
    check the person's personalisation consent first (labs.services_privacy.consent_given)."""
    now = now or timezone.now()
    rows = (
        Booking.objects.filter(organiser=person, desk__isnull=False, start__gte=now - timedelta(weeks=weeks))
        .exclude(status=BookingStatus.CANCELLED)
        .values("desk_id")
        .annotate(times=Count("id"))
        .filter(times__gte=2)
        .order_by("-times", "desk_id")
    )
    first = rows.first()
    return Desk.objects.filter(pk=first["desk_id"], is_active=True).first() if first else None


def booking_for_check_in(*, person: Person, pk: int) -> Booking | None:
    """A booking the person may check in (organiser or attendee), else None."""
    booking = Booking.objects.select_related("site", "room", "desk").filter(pk=pk).first()
    if booking is None:
        return None
    email = (person.user.email or "").lower()
    if booking.organiser_id == person.pk or (email and email in {a.lower() for a in booking.attendees}):
        return booking
    return None


def upcoming_bookings_for(*, person: Person, now: datetime | None = None) -> QuerySet[Booking]:
    now = now or timezone.now()
    return booking_list_for(person=person).filter(organiser=person, end__gt=now).order_by("start")


def calendar_bookings_for(*, person: Person, now: datetime | None = None) -> QuerySet[Booking]:
    """What the person's iCalendar feed shows: their bookings from 30 days ago to a year ahead."""
    now = now or timezone.now()
    return (
        Booking.objects.filter(organiser=person, end__gt=now - timedelta(days=30), start__lt=now + timedelta(days=366))
        .select_related("site", "room__floor", "desk__zone")
        .order_by("start")[:2000]
    )


def occupying(at: datetime) -> Q:
    """Checked-in bookings that occupy their resource at ``at``: from the moment of check-in (which may be up to the
    check-in window before the start) until the end."""
    return Q(status=BookingStatus.CHECKED_IN, checked_in_at__lte=at, end__gt=at)


def desk_checked_in_bookings(*, zone: Zone, at: datetime | None = None) -> QuerySet[Booking]:
    """Bookings of desks in ``zone`` that are checked in and occupy their desk at ``at``."""
    at = at or timezone.now()
    return Booking.objects.filter(occupying(at), desk__zone=zone).select_related("organiser", "organiser__user", "desk")


def desk_occupancies(*, at: datetime) -> QuerySet[Booking]:
    """Checked-in desk bookings occupying their desk at ``at``, the one that started first first: if an early
    check-in overlaps the end of the previous booking, the desk is still the earlier one's. Filter it by desk (or by
    ``OuterRef("desk_id")`` in a subquery, as comfort does)."""
    return Booking.objects.filter(occupying(at), desk__isnull=False).order_by("start")


def desk_checked_in_booking(*, desk: Desk, at: datetime | None = None) -> Booking | None:
    """The checked-in booking that occupies ``desk`` at ``at``, if any (:func:`desk_occupancies`)."""
    at = at or timezone.now()
    return desk_occupancies(at=at).filter(desk=desk).select_related("organiser").first()


@dataclass(frozen=True)
class PlanSpot:
    """A desk or room placed on its floor's plan, and whether it is free for a window."""

    kind: str  # "desk" | "room"
    resource: Desk | Room
    x: float  # in the plan's viewBox units
    y: float
    state: str  # "free" | "taken" | "mine"


def floor_plan_spots(
    *, floor, free_from: datetime, free_to: datetime, viewer: Person | None, kinds=("desk", "room")
) -> list[PlanSpot]:
    """The placed, active desks and rooms of ``floor`` with their state over [free_from, free_to): free (the same
    search as the lists: :func:`desk_search`, :func:`room_search`), mine (the viewer holds it then) or taken."""
    from labs.floor_plans import viewbox

    box = viewbox(floor.plan_svg)
    if box is None:
        return []
    left, top, width, height = box
    spots: list[PlanSpot] = []
    for kind, model, search in (("desk", Desk, desk_search), ("room", Room, room_search)):
        if kind not in kinds:
            continue
        placed = model.objects.filter(floor=floor, is_active=True, plan_x__isnull=False, plan_y__isnull=False)
        free = set(search(queryset=placed, free_from=free_from, free_to=free_to).values_list("pk", flat=True))
        mine = set()
        if viewer is not None:
            mine = set(
                Booking.objects.filter(  # booked by the viewer then; a room only clearing up after it is "taken"
                    db.booked_overlaps(free_from, free_to), organiser=viewer, **{f"{kind}__in": placed}
                ).values_list(f"{kind}_id", flat=True)
            )
        for resource in placed.select_related("site", "floor"):
            state = "mine" if resource.pk in mine else "free" if resource.pk in free else "taken"
            spots.append(
                PlanSpot(
                    kind=kind,
                    resource=resource,
                    x=round(left + width * resource.plan_x / 100, 2),
                    y=round(top + height * resource.plan_y / 100, 2),
                    state=state,
                )
            )
    return spots


# Every booking's first read (the API's create, on every request): its SQL built once (labs.prepared).
_BOOKABLE = {
    model: CompiledLookup(
        lambda pk, model=model: model.objects.select_related("site", "site__booking_policy").filter(
            pk=pk, is_active=True
        ),
        pk=int,
    )
    for model in (Room, Desk)
}


def _closures_between(first: date, last: date) -> ArraySubquery:
    """The site's closure days from ``first`` to ``last`` as ``"YYYY-MM-DD reason"`` texts, in day order."""
    day = Func(F("day"), Value("YYYY-MM-DD"), function="to_char", output_field=CharField())
    days = Closure.objects.filter(site_id=OuterRef("site_id"), day__range=(first, last)).order_by("day")
    return ArraySubquery(days.values(entry=Concat(day, Value(" "), F("reason"), output_field=CharField())))


# The same, with the site's closure days around the booking in the same statement (PostgreSQL): the rule ``closed``
# then needs no query of its own (ClosuresRead).
_BOOKABLE_WITH_CLOSURES = {
    model: CompiledLookup(
        lambda pk, first, last, model=model: (
            model.objects.select_related("site", "site__booking_policy")
            .filter(pk=pk, is_active=True)
            .annotate(closures_between=_closures_between(first, last))
        ),
        pk=int,
        first=date,
        last=date,
    )
    for model in (Room, Desk)
}


@dataclass(frozen=True)
class ClosuresRead:
    """A site's closure days from ``first`` to ``last`` (day -> reason), read with a room or desk: what
    ``bookings.services.rules.closed_days`` would read for any local day in that range."""

    first: date
    last: date
    days: dict[date, str]

    def covers(self, days: set[date]) -> bool:
        return bool(days) and self.first <= min(days) and max(days) <= self.last


def bookable_get(
    model: type[Room] | type[Desk], pk: int, *, during: tuple[datetime, datetime] | None = None
) -> Room | Desk:
    """The active room or desk ``pk`` with its site and the site's booking policy; ``model.DoesNotExist`` if there
    is no such active one.

    ``during`` (a booking's start and end): on PostgreSQL the site's closure days around it come in the same
    statement, as ``resource.closures_read`` (a :class:`ClosuresRead`), which the booking services hand to the rules
    instead of a query of their own. Every local day of the booking lies within a day of its UTC dates (offsets are
    -12 to +14 hours), so that window covers any site's time zone.
    """
    if during is None or not db.uses_ranges():
        return _BOOKABLE[model].get(pk=pk)
    start, end = during
    first = start.astimezone(UTC).date() - timedelta(days=1)
    last = end.astimezone(UTC).date() + timedelta(days=1)
    if last < first:  # an end before its start: refused by the service, which reads the closures itself if at all
        return _BOOKABLE[model].get(pk=pk)
    resource = _BOOKABLE_WITH_CLOSURES[model].get(pk=pk, first=first, last=last)
    entries = resource.__dict__.pop("closures_between")
    days = {date.fromisoformat(entry[:10]): entry[11:] for entry in entries}
    resource.closures_read = ClosuresRead(first=first, last=last, days=days)
    return resource
