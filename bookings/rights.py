"""Where a person's booking data lies, for export and erasure (labs.rights), and the bookings' retention purges."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy

from bookings.models import Booking, BookingSeries, CalendarFeed
from labs import privacy, rights
from labs.models import Person

ANOTHER_PERSON = "(another person)"


def _email(person: Person) -> str:
    return (person.user.email or "").strip().lower()


def bookings_attended(person: Person):
    """Other people's bookings that list the person's email among their attendees (exact match, any database)."""
    email = _email(person)
    if not email:
        return Booking.objects.none()
    candidates = (
        Booking.objects.exclude(organiser=person)
        .annotate(attendees_text=Cast("attendees", TextField()))
        .filter(attendees_text__icontains=email)
    )
    return [b for b in candidates if email in {str(a).strip().lower() for a in b.attendees}]


def _export(person: Person):
    return [
        Booking.objects.filter(organiser=person).order_by("start"),
        BookingSeries.objects.filter(organiser=person).order_by("first_start"),
        bookings_attended(person),
        CalendarFeed.objects.filter(person=person),
    ]


def _render(person: Person, instance, name: str, value):
    """Never another person's data: attendees other than the person are not named; of a booking the person only
    attends, only the fact that they attend is theirs (its title and ids are the organiser's)."""
    if name != "attendees":
        if isinstance(instance, Booking | BookingSeries) and instance.organiser_id != person.pk:
            return rights.OMIT
        return value
    own = _email(person)
    return [a if str(a).strip().lower() == own else ANOTHER_PERSON for a in (value or [])]


def _headcount(row) -> int | None:
    return row.attendee_count if row.attendee_count is not None else len(row.attendees or [])


def _erase(person: Person, pseudonym: str) -> None:
    """Future bookings are cancelled (a running desk booking ends: its desk returns to its defaults through the
    occupancy event); every booking and series keeps its times for utilisation analysis but loses its title and its
    attendees (their number stays); the person's address leaves other people's attendee lists; the feed goes."""
    from bookings.services.changes import cancel_queryset

    now = timezone.now()
    cancel_queryset(Booking.objects.filter(organiser=person, end__gt=now), now=now)
    own = list(Booking.objects.filter(organiser=person).exclude(title="", attendees=[]))
    for booking in own:
        booking.attendee_count = _headcount(booking)
        booking.title, booking.attendees, booking.override_reason = "", [], ""
    Booking.objects.bulk_update(own, ["title", "attendees", "attendee_count", "override_reason"], batch_size=500)
    BookingSeries.objects.filter(organiser=person).update(title="", attendees=[])
    email = _email(person)
    attended = bookings_attended(person)
    for booking in attended:
        booking.attendee_count = _headcount(booking)
        booking.attendees = [a for a in booking.attendees if str(a).strip().lower() != email]
    Booking.objects.bulk_update(attended, ["attendees", "attendee_count"], batch_size=500)
    CalendarFeed.objects.filter(person=person).delete()


SOURCE = rights.PersonalDataSource(
    name="bookings",
    export=_export,
    erase=_erase,
    render=_render,
    order=50,
    title=gettext_lazy("Your bookings"),
    kept=gettext_lazy(
        "bookings keep their room or desk and times, without title or attendees, for 13 months after their end "
        "(utilisation analysis), then they are deleted"
    ),
)


# --- retention -------------------------------------------------------------------------------------------------


def titles_purge(now: datetime) -> int:
    """Titles and attendees are cleared their declared days after the booking's end (the count stays)."""
    days = privacy.declaration_for(Booking, "title").retention_days
    cutoff = now - timedelta(days=days)
    changed = 0
    with transaction.atomic():
        rows = list(Booking.objects.filter(end__lt=cutoff).exclude(title="", attendees=[])[:5000])
        for booking in rows:
            booking.attendee_count = _headcount(booking)
            booking.title, booking.attendees = "", []
        changed += Booking.objects.bulk_update(rows, ["title", "attendees", "attendee_count"], batch_size=500)
        series = BookingSeries.objects.exclude(title="", attendees=[]).exclude(
            Q(occurrences__end__gte=cutoff) | Q(first_start__gte=cutoff)
        )
        changed += BookingSeries.objects.filter(pk__in=list(series.values_list("pk", flat=True))).update(
            title="", attendees=[]
        )
    return changed


def bookings_purge(now: datetime) -> int:
    """Bookings are deleted their declared days (13 months) after their end; then series with nothing left."""
    cutoff = now - timedelta(days=privacy.declaration_for(Booking, "uid").retention_days)
    deleted = 0
    while ids := list(Booking.objects.filter(end__lt=cutoff).values_list("pk", flat=True)[:1000]):
        deleted += Booking.objects.filter(pk__in=ids).delete()[1].get("bookings.Booking", 0)
    deleted += BookingSeries.objects.filter(first_start__lt=cutoff, occurrences__isnull=True).delete()[0]
    return deleted


def register() -> None:
    rights.register_source(SOURCE)
    rights.register_purge("bookings.titles", titles_purge)
    rights.register_purge("bookings.bookings", bookings_purge)
