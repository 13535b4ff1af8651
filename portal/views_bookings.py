"""Portal: find and book a room or a desk, a room's day, my bookings (cancel, check in).

Every page calls the bookings services and selectors; times are entered and shown in the site's local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from bookings import selectors, services
from bookings.choices import BookingSource, CancelScope
from bookings.models import Booking, Desk, Room
from calendars import personal as personal_calendars
from labs.errors import DomainError
from labs.models import Zone
from labs.permissions import person_of
from labs.validators import validate_date_in_range, validate_datetime_in_range, validate_single_line

SLOT = timedelta(minutes=30)  # proposed times fall on the half hour
ROOM_DEFAULT_LENGTH = timedelta(hours=1)
DESK_DAY_ENDS = time(17)  # a desk is proposed until the end of the working day (or closing, if later)


class BookableHours(NamedTuple):
    """What a proposed window must respect; bookings.services.EffectiveRules has the same attributes."""

    opens_at: time
    closes_at: time
    min_notice: timedelta


def _site_today(person) -> date:
    return timezone.now().astimezone(person.site.tz).date()


def _next_slot(*, tz, rules, length: timedelta) -> tuple[datetime, datetime]:
    """The first window of ``length`` on the half-hour grid that starts after now plus the notice and lies within the
    bookable hours: today if it still fits, else the next day at opening. Wall-clock arithmetic in ``tz``."""
    earliest = (timezone.now() + rules.min_notice).astimezone(tz).replace(tzinfo=None)
    start = earliest.replace(minute=0, second=0, microsecond=0) + SLOT * (earliest.minute // 30 + 1)
    day = start.date()
    for _ in range(3):
        opens, closes = datetime.combine(day, rules.opens_at), datetime.combine(day, rules.closes_at)
        start = max(start, opens)
        if start + length <= closes:
            break
        day += timedelta(days=1)
        start = datetime.combine(day, rules.opens_at)
    return start.replace(tzinfo=tz), (start + length).replace(tzinfo=tz)


def _window_initial(start: datetime, end: datetime) -> dict:
    return {"date": start.date(), "start": start.time(), "end": end.time()}


def _room_initial(site, rules: BookableHours) -> dict:
    return _window_initial(*_next_slot(tz=site.tz, rules=rules, length=ROOM_DEFAULT_LENGTH))


def _desk_initial(site) -> dict:
    rules = _site_hours(site)
    start, end = _next_slot(tz=site.tz, rules=rules, length=ROOM_DEFAULT_LENGTH)
    day_end = min(DESK_DAY_ENDS, rules.closes_at)
    if end.time() < day_end:
        end = end.replace(hour=day_end.hour, minute=day_end.minute)
    elif end.time() < rules.closes_at:
        end = end.replace(hour=rules.closes_at.hour, minute=rules.closes_at.minute)
    return _window_initial(start, end)


def _site_hours(site) -> BookableHours:
    """The site's bookable hours and notice (its policy; a room may have its own: room_day uses the room's rules)."""
    policy = services.policy_for(site)
    return BookableHours(policy.opens_at, policy.closes_at, timedelta(minutes=policy.min_notice_minutes))


class WindowForm(forms.Form):
    """A local date and a from-to time at the person's site."""

    # An <input type=date> takes and sends YYYY-MM-DD whatever the locale (en-GB's 29/11/2026 leaves it empty).
    date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), validators=[validate_date_in_range]
    )
    start = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M"))
    end = forms.TimeField(label="To", widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M"))

    def __init__(self, *args, tz, **kwargs):
        self.tz = tz
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError("The end must be after the start.")
        return data

    def window(self) -> tuple[datetime, datetime]:
        data = self.cleaned_data
        return (
            datetime.combine(data["date"], data["start"], tzinfo=self.tz),
            datetime.combine(data["date"], data["end"], tzinfo=self.tz),
        )


class RoomSearchForm(WindowForm):
    capacity = forms.IntegerField(label="People", min_value=1, max_value=500, required=False)
    amenities = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    floor = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, tz=site.tz, **kwargs)
        names = sorted({a for row in Room.objects.filter(site=site).values_list("amenities", flat=True) for a in row})
        self.fields["amenities"].choices = [(a, a.replace("_", " ").capitalize()) for a in names]
        levels = Room.objects.filter(site=site).order_by("floor__level").values_list("floor__level", "floor__name")
        self.fields["floor"].choices = [("", "Any floor"), *dict(levels).items()]


class DeskSearchForm(WindowForm):
    zone = forms.ModelChoiceField(queryset=Zone.objects.none(), required=False, empty_label="Any zone")

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, tz=site.tz, **kwargs)
        self.fields["zone"].queryset = Zone.objects.filter(floor__site=site).select_related("floor")


class BookForm(forms.Form):
    room = forms.IntegerField(required=False, min_value=1)
    desk = forms.IntegerField(required=False, min_value=1)
    start = forms.DateTimeField(validators=[validate_datetime_in_range])
    end = forms.DateTimeField(validators=[validate_datetime_in_range])
    title = forms.CharField(max_length=200, required=False, validators=[validate_single_line])
    guests = forms.CharField(max_length=2000, required=False, help_text="E-mail addresses to invite.")
    next = forms.CharField(required=False)


def _person(request):
    return person_of(request.user)


def _render(request, template: str, context: dict, *, tz, status: int = 200):
    """Render with the site's time zone active, so every time on the page is local to the site."""
    with timezone.override(tz):
        return render(request, template, context, status=status)


@login_required
@require_GET
def room_search(request):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    site = person.site
    form = RoomSearchForm(request.GET or None, site=site, initial=_room_initial(site, _site_hours(site)))
    rooms, window = None, None
    if form.is_bound and form.is_valid():
        window = form.window()
        rooms = list(
            selectors.room_search(
                site=site,
                capacity_min=form.cleaned_data.get("capacity"),
                amenities=form.cleaned_data.get("amenities") or [],
                floor_level=form.cleaned_data.get("floor"),
                free_from=window[0],
                free_to=window[1],
            ).order_by("floor__level", "capacity", "name")
        )
        if not rooms:
            services.empty_search_record(site=site, start=window[0], people=form.cleaned_data.get("capacity"))
    return _render(
        request,
        "portal/bookings/rooms.html",
        {"form": form, "rooms": rooms, "window": window, "site": site},
        tz=site.tz,
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _day_asked(request) -> date | None:
    """The ``?date=`` of a day page; a malformed one, or one too far out to show (0001-01-01, 9999-12-31), is
    ignored: the page shows today."""
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
        validate_date_in_range(day)
    except (ValueError, ValidationError):
        return None
    return day


def _room_day_initial(room, rules, day: date) -> dict:
    """The room's next bookable hour, on the day shown if that is later (same hours), else on the slot's day."""
    initial = _room_initial(room.site, rules)
    return {**initial, "date": max(day, initial["date"])}


@login_required
@require_GET
def room_day(request, pk: int):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    room = get_object_or_404(Room.objects.select_related("site", "floor"), pk=pk, is_active=True)
    tz = room.site.tz
    day = _day_asked(request) or _site_today(person)
    rules = services.rules_for(room=room)
    busy = selectors.resource_busy_intervals(room=room, day=day, viewer=person)
    hours = []
    for hour in range(rules.opens_at.hour, min(rules.closes_at.hour + (1 if rules.closes_at.minute else 0), 24)):
        slot_start = datetime.combine(day, time(hour), tzinfo=tz)
        slot_end = slot_start + timedelta(hours=1)
        taken = [b for b in busy if b.start < slot_end and b.held_until > slot_start]
        hours.append({"start": slot_start, "end": slot_end, "busy": taken})
    return _render(
        request,
        "portal/bookings/room_day.html",
        {
            "room": room,
            "day": day,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "busy": [{"start": b.start.astimezone(tz), "end": b.end.astimezone(tz), "mine": b.mine} for b in busy],
            "hours": hours,
            "form": WindowForm(tz=tz, initial=_room_day_initial(room, rules, day)),
            "tz": tz,
            "booking_address": personal_calendars.booking_address(room),
        },
        tz=tz,
    )


@login_required
@require_GET
def desk_search(request):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    site = person.site
    form = DeskSearchForm(request.GET or None, site=site, initial=_desk_initial(site))
    desks, window = None, None
    if form.is_bound and form.is_valid():
        window = form.window()
        desks = list(
            selectors.desk_search(site=site, zone=form.cleaned_data.get("zone"), free_from=window[0], free_to=window[1])
        )
    return _render(
        request,
        "portal/bookings/desks.html",
        {"form": form, "desks": desks, "window": window, "site": site},
        tz=site.tz,
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _back(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse(default)


@login_required
@require_POST
def book(request):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    form = BookForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That booking request was not complete; please try again.")
        return redirect(_back(request, "portal:rooms"))
    data = form.cleaned_data
    room = Room.objects.select_related("site").filter(pk=data.get("room"), is_active=True).first()
    desk = Desk.objects.select_related("site").filter(pk=data.get("desk"), is_active=True).first()
    if (room is None) == (desk is None):
        messages.error(request, "Choose a room or a desk.")
        return redirect(_back(request, "portal:rooms"))
    tz = (room or desk).site.tz
    start, end = data["start"].astimezone(tz), data["end"].astimezone(tz)
    try:
        booking = services.booking_create(
            actor=person,
            room=room,
            desk=desk,
            start=start,
            end=end,
            title=data.get("title", ""),
            attendees=[a for a in re.split(r"[\s,;]+", data.get("guests") or "") if a],
            source=BookingSource.PORTAL,
        )
    except DomainError as exc:
        messages.error(request, f"Not booked: {exc.detail}")
        return redirect(_back(request, "portal:rooms"))
    what = booking.room.name if booking.room_id else f"desk {booking.desk.label}"
    messages.success(request, f"Booked {what} on {start:%a %d %b} {start:%H:%M}-{end:%H:%M}.")
    return redirect("portal:my-bookings")


@login_required
@require_GET
def my_bookings(request):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    tz = person.site.tz
    now = timezone.now()
    upcoming = list(selectors.upcoming_bookings_for(person=person, now=now).exclude(status="cancelled")[:100])
    rows = [
        {
            "booking": b,
            "start": b.start.astimezone(b.site.tz),
            "end": b.end.astimezone(b.site.tz),
            "tz": b.site.tz,  # a booking at another site shows in that site's zone, named
            "can_check_in": b.status == "confirmed" and b.start - settings.BOOKINGS_CHECK_IN_AHEAD <= now < b.end,
            "can_cancel": b.status in {"confirmed", "checked_in"},
        }
        for b in upcoming
    ]
    return _render(request, "portal/bookings/my_bookings.html", {"rows": rows, "tz": tz}, tz=tz)


def _own_booking(request, pk: int) -> Booking:
    return get_object_or_404(selectors.booking_list_for(person=_person(request)), pk=pk)


@login_required
@require_POST
def booking_cancel(request, pk: int):
    booking = _own_booking(request, pk)
    scope = request.POST.get("scope", CancelScope.ONE)
    try:
        services.booking_cancel(actor=_person(request), booking=booking, scope=scope)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Booking cancelled.")
    return redirect("portal:my-bookings")


@login_required
@require_POST
def booking_check_in(request, pk: int):
    person = _person(request)
    booking = selectors.booking_for_check_in(person=person, pk=pk) if person else None
    if booking is None:
        raise Http404("No such booking.")
    try:
        services.booking_check_in(actor=person, booking=booking)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Checked in to {booking.room.name if booking.room_id else booking.desk.label}.")
    return redirect("portal:my-bookings")
