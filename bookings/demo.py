"""Demo data for bookings: 12 conference rooms over the site's floors, 60 desks over its zones, a few bookings.

Called by ``manage.py demo_site`` after it has made the site, floors, zones and people. Idempotent: rooms and desks
are matched by name and label, and a demo booking that already exists (same person, resource and start) is skipped.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils import timezone

from bookings import services
from bookings.choices import HOLDING_STATUSES, BookingSource
from bookings.models import Booking, BookingPolicy, Desk, Room
from labs.errors import DomainError
from labs.floor_plans import sanitise_svg
from labs.models import Floor, Person, Site, Zone

# name, capacity, amenities, floor index (0: lowest floor), buffer minutes
ROOMS = [
    ("Fjord", 6, ["screen", "video", "whiteboard"], 0, 0),
    ("Havn", 10, ["screen", "video", "whiteboard"], 0, 10),
    ("Lyng", 4, ["screen"], 0, 0),
    ("Klit", 2, ["phone"], 0, 0),
    ("Skov", 8, ["screen", "whiteboard"], 0, 0),
    ("Bølge", 16, ["screen", "video", "projector", "whiteboard"], 0, 15),
    ("Nordlys", 4, ["screen", "video"], 1, 0),
    ("Tinde", 2, ["phone"], 1, 0),
    ("Ø", 6, ["screen", "whiteboard"], 1, 0),
    ("Sund", 12, ["screen", "video", "projector"], 1, 10),
    ("Mose", 3, ["screen"], 1, 0),
    ("Storm", 24, ["screen", "video", "projector", "whiteboard", "stage"], 1, 15),
]
DESKS = 60
DESK_AMENITIES = [["monitor"], ["monitor", "standing"], [], ["monitor", "dock"], ["standing"]]


def _ensure_rooms(site: Site, floors: list[Floor]) -> int:
    created = 0
    for name, capacity, amenities, floor_index, buffer in ROOMS:
        floor = floors[min(floor_index, len(floors) - 1)]
        _room, was_created = Room.objects.update_or_create(
            site=site,
            name=name,
            defaults={"floor": floor, "capacity": capacity, "amenities": amenities, "buffer_minutes": buffer},
        )
        created += was_created
    return created


def _ensure_desks(site: Site, zones: list[Zone]) -> int:
    created = 0
    for index in range(DESKS):
        zone = zones[index % len(zones)]
        number = index // len(zones) + 1
        label = f"{zone.floor.level}{zone.slug.split('-')[-1][:1].upper()}-{number:02d}"
        if Desk.objects.filter(site=site, label=label).exists():
            continue
        desk = Desk(
            site=site,
            floor=zone.floor,
            zone=zone,
            label=label,
            amenities=DESK_AMENITIES[index % len(DESK_AMENITIES)],
        )
        desk.full_clean()
        desk.save()
        created += 1
    return created


# The demo plans: a 1000 x 600 drawing per floor; open-plan zones on the left (by slug suffix), rooms on the right.
PLAN_WIDTH, PLAN_HEIGHT = 1000, 600
ZONE_BANDS = {"north": (40, 230), "atrium": (250, 350), "south": (370, 560)}
ROOM_CELLS = [(660, 40), (820, 40), (660, 215), (820, 215), (660, 390), (820, 390)]  # top-left, 140 x 170 each


def _zone_band(zone: Zone, index: int) -> tuple[int, int]:
    suffix = zone.slug.split("-")[-1]
    return ZONE_BANDS.get(suffix, list(ZONE_BANDS.values())[index % len(ZONE_BANDS)])


def _plan_svg(floor: Floor, zones: list[Zone]) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {PLAN_WIDTH} {PLAN_HEIGHT}" font-family="sans-serif">',
        f"<title>{escape(floor.name)}</title>",
        '<rect x="0" y="0" width="1000" height="600" fill="#f7f8fa"/>',
        '<rect x="20" y="20" width="960" height="560" fill="#ffffff" stroke="#4a5068" stroke-width="6"/>',
    ]
    for index, zone in enumerate(zones):
        top, bottom = _zone_band(zone, index)
        parts.append(
            f'<rect x="40" y="{top}" width="600" height="{bottom - top}" rx="10" fill="#eef1f8" stroke="#c5cbe0"/>'
            f'<text x="52" y="{top + 22}" font-size="16" fill="#525a70">{escape(zone.name)}</text>'
        )
    for left, top in ROOM_CELLS:
        parts.append(
            f'<rect x="{left}" y="{top}" width="140" height="170" fill="#fbfbfd" stroke="#4a5068" stroke-width="3"/>'
        )
        parts.append(
            f'<line x1="{left + 50}" y1="{top + 170}" x2="{left + 90}" y2="{top + 170}" '
            'stroke="#ffffff" stroke-width="5"/>'
        )
    parts.append('<path d="M640 40 V560" stroke="#4a5068" stroke-width="4"/>')
    parts.append("</svg>")
    return sanitise_svg("".join(parts))


def _ensure_plans(site: Site, floors: list[Floor]) -> int:
    """Each floor gets the demo drawing (unless staff uploaded one) and its desks and rooms a place on it (unless
    already placed: a place staff chose is kept)."""
    placed = 0
    for floor in floors:
        zones = list(floor.zones.order_by("slug"))
        drawing = _plan_svg(floor, zones)
        if not floor.plan_svg:
            floor.plan_svg = drawing
            floor.save(update_fields=["plan_svg"])
        for index, zone in enumerate(zones):
            top, bottom = _zone_band(zone, index)
            desks = list(Desk.objects.filter(zone=zone).order_by("label"))
            per_row = max(1, (len(desks) + 1) // 2)
            for n, desk in enumerate(desks):
                if desk.plan_x is not None:
                    continue
                row, col = divmod(n, per_row)
                x = 100 + col * (480 / max(per_row - 1, 1))
                y = top + (bottom - top) * (0.45 if row == 0 else 0.78) if bottom - top > 120 else top + 60
                if bottom - top <= 120:
                    x = 90 + n * (520 / max(len(desks) - 1, 1))
                desk.plan_x, desk.plan_y = round(x / PLAN_WIDTH * 100, 2), round(y / PLAN_HEIGHT * 100, 2)
                desk.save(update_fields=["plan_x", "plan_y"])
                placed += 1
        for cell, room in zip(ROOM_CELLS, Room.objects.filter(floor=floor).order_by("name"), strict=False):
            if room.plan_x is not None:
                continue
            room.plan_x = round((cell[0] + 70) / PLAN_WIDTH * 100, 2)
            room.plan_y = round((cell[1] + 75) / PLAN_HEIGHT * 100, 2)
            room.save(update_fields=["plan_x", "plan_y"])
            placed += 1
    return placed


def _book_once(*, person: Person, start: datetime, end: datetime, title: str = "", **resource) -> bool:
    exists = Booking.objects.filter(organiser=person, start=start, status__in=HOLDING_STATUSES, **resource).exists()
    if exists or start <= timezone.now():
        return False
    try:
        with transaction.atomic():
            services.booking_create(
                actor=person, start=start, end=end, title=title, source=BookingSource.PORTAL, **resource
            )
    except DomainError:  # taken by someone else, or outside the rules today: the demo does without it
        return False
    return True


def _ensure_bookings(site: Site) -> int:
    people = {p.user.username: p for p in Person.objects.filter(site=site, user__username__in=["member", "colleague"])}
    rooms = {r.name: r for r in Room.objects.filter(site=site)}
    desks = list(Desk.objects.filter(site=site).order_by("label")[:2])
    if not people or not rooms:
        return 0
    tz = site.tz
    today = timezone.now().astimezone(tz).date()
    tomorrow = today + timedelta(days=1)

    def at(day, hour, minute=0):
        return datetime.combine(day, time(hour, minute), tzinfo=tz)

    now_local = timezone.now().astimezone(tz)
    next_hour = min(max(now_local.hour + 1, 8), 18)
    made = 0
    member, colleague = people.get("member"), people.get("colleague")
    if member:
        made += _book_once(
            person=member,
            room=rooms["Fjord"],
            start=at(today, next_hour),
            end=at(today, next_hour + 1),
            title="Sprint planning",
        )
        made += _book_once(
            person=member, room=rooms["Havn"], start=at(tomorrow, 10), end=at(tomorrow, 11), title="Investor call"
        )
        if desks:
            made += _book_once(person=member, desk=desks[0], start=at(tomorrow, 9), end=at(tomorrow, 17))
        if desks:
            made += _ensure_desk_for_the_door(member=member, desk=desks[0])
    if colleague:
        made += _book_once(
            person=colleague, room=rooms["Lyng"], start=at(today, next_hour), end=at(today, next_hour, 30), title="1:1"
        )
        made += _book_once(
            person=colleague, room=rooms["Havn"], start=at(tomorrow, 14), end=at(tomorrow, 15), title="Hiring panel"
        )
        if len(desks) > 1:
            made += _book_once(person=colleague, desk=desks[1], start=at(tomorrow, 9), end=at(tomorrow, 17))
    return made


def _ensure_desk_for_the_door(*, member: Person, desk: Desk) -> bool:
    """The demo member holds a desk from now to the end of the local day, whatever the hour, so that their badge
    scan at the door (the simulated reader presents it every round) checks them in and the desk moves to their height.
    Booked by staff with a recorded override: the demo must work at night too, outside the bookable hours."""
    now = timezone.now()
    tz = member.site.tz
    start = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    end = datetime.combine(start.astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz)
    held_today = Booking.objects.filter(
        organiser=member, desk__isnull=False, status__in=HOLDING_STATUSES, start__lt=end, end__gt=now
    )
    staff = Person.objects.filter(site=member.site, role="staff", user__is_active=True).order_by("pk").first()
    if held_today.exists() or staff is None:
        return False
    try:
        with transaction.atomic():
            services.booking_create(
                actor=staff,
                organiser=member,
                desk=desk,
                start=start,
                end=end,
                source=BookingSource.STAFF,
                override_reason="demo: a desk to check in to by badge at the door",
            )
    except DomainError:
        return False
    return True


def seed(*, site: Site, stdout) -> None:
    floors = list(Floor.objects.filter(site=site).order_by("level"))
    zones = list(Zone.objects.filter(floor__site=site).select_related("floor").order_by("floor__level", "slug"))
    if not floors or not zones:
        stdout.write("  bookings: the site has no floors or zones yet; nothing seeded")
        return
    with transaction.atomic():
        BookingPolicy.objects.get_or_create(site=site)
        rooms = _ensure_rooms(site, floors)
        desks = _ensure_desks(site, zones)
        placed = _ensure_plans(site, floors)
    bookings = _ensure_bookings(site)
    stdout.write(
        f"  bookings: {Room.objects.filter(site=site).count()} rooms (+{rooms}), "
        f"{Desk.objects.filter(site=site).count()} desks (+{desks}), {placed} newly placed on the floor plans, "
        f"{bookings} new demo bookings"
    )
