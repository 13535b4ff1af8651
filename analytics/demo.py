"""Demo history for analytics: 12 weeks of realistic past room bookings at the demo site, some unmet demand, and a
finished analytics run over them, so the staff dashboard has something to show on the first `make run`.

Called by ``manage.py demo_site`` after bookings' demo (rooms exist). Idempotent and fast: the history is written
once (one bulk insert of a few thousand rows; skipped when the site already has imported history) and is always
the same for the same day (a fixed seed). Realistic: meetings of mostly 1-4 people, about a fifth no-shows, peaks
Monday to Thursday mid-morning and early afternoon, small rooms busy and large rooms mostly holding small meetings.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import services
from analytics.choices import RunState
from analytics.models import Run
from bookings.choices import BookingSource, BookingStatus, CheckInVia, DemandKind, size_band
from bookings.models import Booking, DemandSignal, Room
from labs import bulk
from labs.models import Person, Site

WEEKS = 12
SEED = 20260301
# How busy a weekday is (Monday 0 .. Sunday 6) and an hour of the day, 0..1.
WEEKDAY_LOAD = [1.0, 1.0, 0.95, 0.9, 0.55, 0.04, 0.02]
HOUR_LOAD = {8: 0.35, 9: 0.7, 10: 1.0, 11: 0.9, 12: 0.45, 13: 0.85, 14: 1.0, 15: 0.8, 16: 0.5, 17: 0.25}
# Meeting sizes: mostly 1-4 people.
SIZES = [(1, 0.22), (2, 0.3), (3, 0.2), (4, 0.13), (5, 0.05), (6, 0.04), (8, 0.03), (10, 0.02), (14, 0.01)]
NO_SHOW = 0.2
CANCELLED = 0.06


# The rooms people pick when they have a choice (better screens, daylight).
FAVOURITES = {"Nordlys": 1.5, "Ø": 1.4}


def _room_load(capacity: int) -> float:
    """Small rooms are in demand; the large ones stand mostly empty."""
    if capacity <= 2:
        return 0.75
    if capacity <= 4:
        return 0.6
    if capacity <= 8:
        return 0.4
    if capacity <= 12:
        return 0.22
    return 0.08


def _size(rng: random.Random, capacity: int) -> int:
    pick = rng.random()
    for size, share in SIZES:
        pick -= share
        if pick <= 0:
            return min(size, capacity)
    return min(2, capacity)


def _history(site: Site, rooms: list[Room], people: list[int], today: date, rng: random.Random) -> list[Booking]:
    tz = site.tz
    grace = timedelta(minutes=site.check_in_grace_minutes)
    bookings = []
    for offset in range(WEEKS * 7, 0, -1):
        day = today - timedelta(days=offset)
        day_load = WEEKDAY_LOAD[day.weekday()]
        for room in rooms:
            moment = datetime.combine(day, time(8), tzinfo=tz)
            closes = datetime.combine(day, time(18), tzinfo=tz)
            while moment < closes:
                chance = day_load * HOUR_LOAD.get(moment.hour, 0.1) * _room_load(room.capacity)
                chance *= FAVOURITES.get(room.name, 1.0)
                if rng.random() >= chance:
                    moment += timedelta(minutes=30)
                    continue
                length = timedelta(minutes=rng.choice([30, 30, 60, 60, 60, 90, 120]))
                end = min(moment + length, closes)
                size = _size(rng, room.capacity)
                if room.capacity >= 12 and rng.random() < 0.7:
                    size = min(size, rng.choice([2, 3, 4]))  # big rooms mostly hold small meetings
                lead = timedelta(hours=rng.choice([0.25, 1, 2, 4, 20, 26, 48, 72, 168, 336]))
                outcome = rng.random()
                fields = {}
                if outcome < NO_SHOW:
                    status = BookingStatus.RELEASED
                    fields["released_at"] = moment + grace
                elif outcome < NO_SHOW + CANCELLED:
                    status = BookingStatus.CANCELLED
                    fields["cancelled_at"] = moment - lead / 2
                else:
                    status = BookingStatus.COMPLETED
                    fields["checked_in_at"] = moment + timedelta(minutes=rng.randint(-5, 9))
                    fields["checked_in_via"] = rng.choice([CheckInVia.BOOKING, CheckInVia.BADGE, CheckInVia.BADGE])
                bookings.append(
                    Booking(
                        site=site,
                        room=room,
                        organiser_id=rng.choice(people),
                        start=moment,
                        end=end,
                        hold_end=end + timedelta(minutes=room.buffer_minutes),
                        status=status,
                        source=BookingSource.IMPORT,
                        attendee_count=size - 1,
                        created_at=moment - lead,
                        **fields,
                    )
                )
                moment = end + timedelta(minutes=room.buffer_minutes)
                moment += timedelta(minutes=(30 - moment.minute % 30) % 30)
    return bookings


def _signals(site: Site, today: date, rng: random.Random) -> list[DemandSignal]:
    """Refused attempts and empty searches at the busy hours, mostly for small rooms."""
    counts: dict[tuple[date, int, str, str], int] = {}
    for offset in range(WEEKS * 7, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() > 3:
            continue
        for hour in (9, 10, 11, 13, 14, 15):
            for people, kind, chance in (
                (2, DemandKind.CONFLICT, 0.45),
                (1, DemandKind.EMPTY_SEARCH, 0.3),
                (4, DemandKind.CONFLICT, 0.2),
                (6, DemandKind.EMPTY_SEARCH, 0.05),
            ):
                if rng.random() < chance * HOUR_LOAD[hour]:
                    key = (day, hour, size_band(people), kind)
                    counts[key] = counts.get(key, 0) + rng.randint(1, 2)
    return [
        DemandSignal(site=site, day=day, hour=hour, size_band=band, kind=kind, count=n)
        for (day, hour, band, kind), n in counts.items()
    ]


def seed(*, site: Site, stdout) -> None:
    if not settings.ANALYTICS_DEMO_HISTORY:
        stdout.write("  analytics: demo history off (ANALYTICS_DEMO_HISTORY=false)")
        return
    rooms = list(Room.objects.filter(site=site, is_active=True).order_by("pk"))
    people = list(
        Person.objects.filter(site=site, user__is_active=True)
        .exclude(role__in=["visitor", "staff"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not rooms or not people:
        stdout.write("  analytics: no rooms or people at the site; no history")
        return
    today = timezone.now().astimezone(site.tz).date()
    rng = random.Random(SEED)  # noqa: S311 - demo data
    made = signals = 0
    with transaction.atomic():
        if not Booking.objects.filter(site=site, source=BookingSource.IMPORT).exists():
            history = _history(site, rooms, people, today, rng)
            now = timezone.now()
            rows = []
            for booking in history:
                booking.updated_at = now
                rows.append(bulk.instance_row(booking))  # created_at as generated (bulk_create would overwrite it)
            bulk.bulk_insert(Booking, rows)
            made = len(history)
        if not DemandSignal.objects.filter(site=site).exists():
            rows = _signals(site, today, rng)
            DemandSignal.objects.bulk_create(rows)
            signals = len(rows)
    yesterday = today - timedelta(days=1)
    date_from = yesterday - timedelta(days=WEEKS * 7 - 1)
    runs = Run.objects.filter(site=site, state=RunState.DONE, date_from=date_from, date_to=yesterday)
    if not runs.exists():
        run = services.run_create(site=site, date_from=date_from, date_to=yesterday, enqueue=False)
        services.run_execute(run_id=run.pk)
    stdout.write(
        f"  analytics: {made} past bookings and {signals} unmet-demand buckets added; report {date_from}..{yesterday}"
    )
