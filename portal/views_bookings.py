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
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings import ical, selectors, services
from bookings.choices import HOLDING_STATUSES, BookingSource, BookingStatus, CancelScope, amenity_label
from bookings.models import Booking, Desk, Room
from calendars import personal as personal_calendars
from labs import dates, floor_plans
from labs.errors import DomainError
from labs.models import Floor, Person, Zone
from labs.permissions import is_staff, person_of
from labs.redirects import local_target
from labs.validators import ascii_int, validate_date_in_range, validate_datetime_in_range, validate_single_line

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
    for _attempt in range(3):
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


def _desk_day_end(rules: BookableHours) -> time:
    """A desk day proposed from opening ends at the end of the working day, or at closing if that is earlier (and
    at least one slot after opening)."""
    return max(min(DESK_DAY_ENDS, rules.closes_at), (datetime.combine(date.min, rules.opens_at) + SLOT).time())


def _desk_initial_for(person) -> dict:
    """The desk window proposed to ``person``: the site's next desk day, moved on a day at a time (up to a week)
    while the person already holds a desk then: they hold one desk at a time, so that window would be refused."""
    site = person.site
    initial = _desk_initial(site)
    rules = _site_hours(site)
    day_end = _desk_day_end(rules)
    for _attempt in range(7):
        start = datetime.combine(initial["date"], initial["start"], tzinfo=site.tz)
        end = datetime.combine(initial["date"], initial["end"], tzinfo=site.tz)
        held = Booking.objects.filter(
            organiser=person, desk__isnull=False, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
        )
        if not held.exists():
            return initial
        initial = {"date": initial["date"] + timedelta(days=1), "start": rules.opens_at, "end": day_end}
    return initial


def _window_query(query, initial: dict, rules: BookableHours, *, desk: bool):
    """The search a query asks for, its window completed: a link that gives only part of it ("desks on 3 December",
    ``?date=`` alone; a floor without a time) shows results instead of "This field is required". A missing date is
    the proposed one; missing times are the proposed ones, as a room's day proposes them on any day, except that a
    desk on another day than the proposed one is the working day from opening. An empty query stays unbound: the
    page proposes a window."""
    if not query:
        return None
    missing = [key for key in ("date", "start", "end") if key not in query]
    if not missing:
        return query
    start, end = initial["start"], initial["end"]
    if desk and "date" in query and query["date"] != initial["date"].isoformat():
        start, end = rules.opens_at, _desk_day_end(rules)
    proposed = {"date": initial["date"].isoformat(), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
    completed = query.copy()
    for key in missing:
        completed[key] = proposed[key]
    return completed


def _site_hours(site) -> BookableHours:
    """The site's bookable hours and notice (its policy; a room may have its own: room_day uses the room's rules)."""
    policy = services.policy_for(site)
    return BookableHours(policy.opens_at, policy.closes_at, timedelta(minutes=policy.min_notice_minutes))


class WindowForm(forms.Form):
    """A local date and a from-to time at the person's site."""

    # An <input type=date> takes and sends YYYY-MM-DD whatever the locale (en-GB's 29/11/2026 leaves it empty).
    date = forms.DateField(
        label=gettext_lazy("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_date_in_range],
    )
    start = forms.TimeField(
        label=gettext_lazy("From"), widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M")
    )
    end = forms.TimeField(
        label=gettext_lazy("To"), widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M")
    )

    def __init__(self, *args, tz, **kwargs):
        self.tz = tz
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError(_("The end must be after the start."))
        return data

    def window(self) -> tuple[datetime, datetime]:
        data = self.cleaned_data
        return (
            datetime.combine(data["date"], data["start"], tzinfo=self.tz),
            datetime.combine(data["date"], data["end"], tzinfo=self.tz),
        )

    def window_or_initial(self) -> tuple[datetime, datetime] | None:
        """The window asked for, or (an unbound form) the one proposed; None when the form has errors."""
        if self.is_bound:
            return self.window() if self.is_valid() else None
        initial = self.initial
        return (
            datetime.combine(initial["date"], initial["start"], tzinfo=self.tz),
            datetime.combine(initial["date"], initial["end"], tzinfo=self.tz),
        )


class RoomSearchForm(WindowForm):
    capacity = forms.IntegerField(label=gettext_lazy("People"), min_value=1, max_value=500, required=False)
    amenities = forms.MultipleChoiceField(
        label=gettext_lazy("Amenities"), required=False, widget=forms.CheckboxSelectMultiple
    )
    floor = forms.TypedChoiceField(label=gettext_lazy("Floor"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, tz=site.tz, **kwargs)
        names = sorted({a for row in Room.objects.filter(site=site).values_list("amenities", flat=True) for a in row})
        self.fields["amenities"].choices = [(a, amenity_label(a)) for a in names]
        levels = Room.objects.filter(site=site).order_by("floor__level").values_list("floor__level", "floor__name")
        self.fields["floor"].choices = [("", _("Any floor")), *dict(levels).items()]


class ZoneChoiceField(forms.ModelChoiceField):
    """A zone as a member reads it: its floor and its name ("Floor 1 · Atrium"), once where the name already says
    the floor ("Floor 1 Atrium"); not ``Zone.__str__`` ("cph Floor 1 / Floor 1 Atrium", for staff and logs)."""

    def label_from_instance(self, zone: Zone) -> str:
        if zone.name.casefold().startswith(zone.floor.name.casefold()):
            return zone.name
        return f"{zone.floor.name} · {zone.name}"


class DeskSearchForm(WindowForm):
    zone = ZoneChoiceField(
        label=gettext_lazy("Zone"), queryset=Zone.objects.none(), required=False, empty_label=gettext_lazy("Any zone")
    )

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, tz=site.tz, **kwargs)
        self.fields["zone"].queryset = (
            Zone.objects.filter(floor__site=site).select_related("floor").order_by("floor__level", "name")
        )


class BookForm(forms.Form):
    """The one-button booking of a search result: the resource and its window, already chosen."""

    room = forms.IntegerField(required=False, min_value=1)
    desk = forms.IntegerField(required=False, min_value=1)
    start = forms.DateTimeField(validators=[validate_datetime_in_range])
    end = forms.DateTimeField(validators=[validate_datetime_in_range])
    title = forms.CharField(max_length=200, required=False, validators=[validate_single_line])
    guests = forms.CharField(max_length=2000, required=False, help_text="E-mail addresses to invite.")
    next = forms.CharField(required=False)


WEEKDAYS = [
    ("MO", gettext_lazy("Mon")),
    ("TU", gettext_lazy("Tue")),
    ("WE", gettext_lazy("Wed")),
    ("TH", gettext_lazy("Thu")),
    ("FR", gettext_lazy("Fri")),
    ("SA", gettext_lazy("Sat")),
    ("SU", gettext_lazy("Sun")),
]


class BookingForm(WindowForm):
    """The full booking form: a room's title, attendees and repetition; staff may book for someone else."""

    title = forms.CharField(
        label=gettext_lazy("Title"), max_length=200, required=False, validators=[validate_single_line]
    )
    attendees = forms.CharField(
        label=gettext_lazy("Attendees"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "aria-describedby": "id_attendees-hint"}),
        help_text=gettext_lazy("E-mail addresses, separated by commas or new lines."),
    )
    repeat = forms.ChoiceField(
        label=gettext_lazy("Repeat"),
        required=False,
        choices=[
            ("", gettext_lazy("Does not repeat")),
            ("DAILY", gettext_lazy("Every weekday")),
            ("WEEKLY", gettext_lazy("Every week, on the days ticked")),
        ],
    )
    weekdays = forms.MultipleChoiceField(
        label=gettext_lazy("On"), required=False, choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple
    )
    count = forms.IntegerField(
        label=gettext_lazy("Times"),
        required=False,
        min_value=2,
        max_value=100,
        help_text=gettext_lazy("How many bookings in all; or give an end date."),
    )
    until = forms.DateField(
        label=gettext_lazy("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_date_in_range],
    )
    organiser = forms.ModelChoiceField(
        label=gettext_lazy("Book for"), queryset=Person.objects.none(), required=False, empty_label=None
    )

    def __init__(self, *args, actor: Person, room: Room | None, **kwargs):
        super().__init__(*args, tz=actor.site.tz, **kwargs)
        self.room = room
        if room is None:  # a desk is for one person, booked once at a time
            for name in ("title", "attendees", "repeat", "weekdays", "count", "until"):
                del self.fields[name]
        if is_staff(actor):
            people = Person.objects.filter(site=actor.site, user__is_active=True).select_related("user", "company")
            self.fields["organiser"].queryset = people.order_by("user__first_name", "user__last_name", "user__username")
            self.fields["organiser"].initial = actor.pk
            self.fields["organiser"].label_from_instance = lambda p: (
                f"{p.display_name} ({p.company.name})" if p.company_id else p.display_name
            )
        else:
            del self.fields["organiser"]

    def clean_attendees(self):
        raw = self.cleaned_data.get("attendees") or ""
        return [part.strip() for part in raw.replace(";", ",").replace("\n", ",").split(",") if part.strip()]

    def clean(self):
        data = super().clean()
        if data.get("repeat"):
            if data.get("count") and data.get("until"):
                raise forms.ValidationError(_("Give a number of times or an end date, not both."))
            if not data.get("count") and not data.get("until"):
                raise forms.ValidationError(_("Say how many times it repeats, or until when."))
            if data.get("until") and data.get("date") and data["until"] <= data["date"]:
                self.add_error("until", _("The end date must be after the first day."))
            if data["repeat"] == "WEEKLY" and not data.get("weekdays"):
                self.add_error("weekdays", _("Tick the days of the week."))
        return data

    def rrule(self) -> str:
        """The RFC 5545 rule of the repetition chosen, or "" for a single booking."""
        data = self.cleaned_data
        if not data.get("repeat"):
            return ""
        parts = [f"FREQ={data['repeat']}"]
        if data["repeat"] == "DAILY":
            parts.append("BYDAY=MO,TU,WE,TH,FR")
        else:
            parts.append("BYDAY=" + ",".join(code for code, _label in WEEKDAYS if code in data["weekdays"]))
        parts.append(f"COUNT={data['count']}" if data.get("count") else f"UNTIL={data['until']:%Y%m%d}")
        return ";".join(parts)


def _person(request):
    return person_of(request.user)


def _render(request, template: str, context: dict, *, tz, status: int = 200):
    """Render with the site's time zone active, so every time on the page is local to the site."""
    with timezone.override(tz):
        return render(request, template, context, status=status)


def _plans(*, site, person, window, kinds, floor_ids=None) -> list[dict]:
    """The site's floors that have a plan, each with its placed desks and/or rooms and their state in ``window``:
    free (and bookable by ``person`` under the rules), mine, taken, or refused (free, but a rule says no: why)."""
    if window is None:
        return []
    floors = Floor.objects.filter(site=site).exclude(plan_svg="").order_by("level")
    if floor_ids is not None:
        floors = floors.filter(pk__in=floor_ids)
    local_start, local_end = window[0].astimezone(site.tz), window[1].astimezone(site.tz)
    query = {"date": f"{local_start:%Y-%m-%d}", "start": f"{local_start:%H:%M}", "end": f"{local_end:%H:%M}"}
    plans = []
    for floor in floors:
        box = floor_plans.viewbox(floor.plan_svg)
        spots = selectors.floor_plan_spots(
            floor=floor, free_from=window[0], free_to=window[1], viewer=person, kinds=kinds
        )
        if box is None or not spots:
            continue
        refusals = _refusals(person, window, [s.resource for s in spots if s.state == "free"])
        radius = min(box[2], box[3]) * 0.02
        items = []
        for spot in spots:
            refusal = refusals.get((spot.kind, spot.resource.pk))
            state = "refused" if spot.state == "free" and refusal else spot.state
            items.append(
                {
                    "kind": spot.kind,
                    "state": state,
                    "label": _spot_label(spot),
                    "name": _spot_name(spot, state, refusal),
                    "book_url": f"{reverse('portal:book-form')}?{urlencode({spot.kind: spot.resource.pk, **query})}",
                    "x": f"{spot.x:g}",
                    "y": f"{spot.y:g}",
                    "radius": f"{radius:.2f}",
                    "hit": f"{radius * 2:.2f}",  # a touch target about twice the mark
                    "left": f"{spot.x - radius * 1.3:.2f}",
                    "top": f"{spot.y - radius * 1.3:.2f}",
                    "size": f"{radius * 2.6:.2f}",
                    "corner": f"{radius * 0.4:.2f}",
                    "label_y": f"{spot.y + radius * 2.6:.2f}",
                    "font": f"{radius * 1.1:.2f}",
                }
            )
        plans.append({"floor": floor, "box": box, "viewbox": " ".join(f"{v:g}" for v in box), "spots": items})
    return plans


def _refusals(person, window, resources) -> dict:
    """What the booking rules refuse to ``person`` in ``window``: the create path's own check."""
    if window is None or not resources:
        return {}
    return services.booking_refusals(resources=resources, organiser=person, start=window[0], end=window[1])


def _closed_notice(refusals: dict) -> str | None:
    """The site's closure (rule ``closed``) as one sentence for the whole search, when it refused what was found."""
    return next((r.detail for r in refusals.values() if r.extra.get("rule") == "closed"), None)


def _spot_label(spot) -> str:
    return spot.resource.name if spot.kind == "room" else spot.resource.label


def _spot_name(spot, state: str, refusal) -> str:
    """The accessible name of a desk or room on the plan: what it is, its state and what selecting it does."""
    what = spot.resource.name if spot.kind == "room" else _("Desk %(label)s") % {"label": spot.resource.label}
    if state == "free" and spot.kind == "desk":
        return _("Book desk %(label)s (free)") % {"label": spot.resource.label}
    if state == "free":
        return _("Book %(what)s (free)") % {"what": what}
    if state == "mine":
        return _("%(what)s: yours") % {"what": what}
    if state == "refused":
        return _("%(what)s: not bookable. %(reason)s") % {"what": what, "reason": refusal.detail}
    return _("%(what)s: taken") % {"what": what}


def _rooms_held(person, window) -> list[Booking]:
    """The person's room bookings overlapping ``window``: booking another room then means holding two at once."""
    if window is None:
        return []
    return list(
        Booking.objects.filter(
            organiser=person,
            room__isnull=False,
            status__in=HOLDING_STATUSES,
            start__lt=window[1],
            end__gt=window[0],
        ).select_related("room")
    )


@login_required
@require_GET
def room_search(request):
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    site = person.site
    rules = _site_hours(site)
    initial = _room_initial(site, rules)
    form = RoomSearchForm(_window_query(request.GET, initial, rules, desk=False), site=site, initial=initial)
    rooms, window = None, None
    refusals = {}
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
        refusals = _refusals(person, window, rooms)
        if not rooms:
            services.empty_search_record(site=site, start=window[0], people=form.cleaned_data.get("capacity"))
    plan_window = form.window_or_initial()
    level = form.cleaned_data.get("floor") if form.is_bound and form.is_valid() else None
    floor_ids = list(Floor.objects.filter(site=site, level=level).values_list("pk", flat=True)) if level else None
    results = [{"room": r, "refusal": refusals.get(("room", r.pk))} for r in rooms] if rooms is not None else None
    return _render(
        request,
        "portal/bookings/rooms.html",
        {
            "form": form,
            "rooms": rooms,
            "results": results,
            "bookable": [r for r in results or [] if r["refusal"] is None],
            "closed_notice": _closed_notice(refusals) if results else None,
            "window": window,
            "plan_window": plan_window,
            "site": site,
            "plans": _plans(site=site, person=person, window=plan_window, kinds=("room",), floor_ids=floor_ids),
            "rooms_held": _rooms_held(person, plan_window),
        },
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
    rules = services.rules_for(room=room)
    # Unasked, the day of the next bookable hour: late in the evening that is tomorrow, not a day of past hours.
    day = _day_asked(request) or _room_initial(room.site, rules)["date"]
    busy = selectors.resource_busy_intervals(room=room, day=day, viewer=person)
    now = timezone.now()
    day_start = datetime.combine(day, time(0), tzinfo=tz)
    closed = services.closed_days(room.site, [(day_start, day_start + timedelta(hours=1))])  # once, not per hour
    hours = []
    for hour in range(rules.opens_at.hour, min(rules.closes_at.hour + (1 if rules.closes_at.minute else 0), 24)):
        slot_start = datetime.combine(day, time(hour), tzinfo=tz)
        slot_end = slot_start + timedelta(hours=1)
        held = [b for b in busy if b.start < slot_end and b.held_until > slot_start]
        refusal = None
        if not held:
            refusal = services.booking_refusals(
                resources=[room], organiser=person, start=slot_start, end=slot_end, now=now, closed=closed
            )
            refusal = refusal.get(("room", room.pk))
        # An hour held only by the buffer (the room's clearing-up time after a booking) is not anyone's booking.
        buffer = bool(held) and all(b.end <= slot_start for b in held)
        hours.append({"start": slot_start, "end": slot_end, "busy": held, "buffer": buffer, "refusal": refusal})
    # A closed day refuses every hour for the same reason: said once above the grid, each hour just "Closed".
    closed_notice = _closed_notice({h["start"]: h["refusal"] for h in hours if h["refusal"]})
    for hour in hours:
        hour["closed"] = hour["refusal"] is not None and hour["refusal"].extra.get("rule") == "closed"
    return _render(
        request,
        "portal/bookings/room_day.html",
        {
            "room": room,
            "closed_notice": closed_notice,
            "day": day,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "busy": [
                {
                    "start": b.start.astimezone(tz),
                    "end": b.end.astimezone(tz),
                    "ready": b.held_until.astimezone(tz) if b.held_until > b.end else None,
                    "mine": b.mine,
                }
                for b in busy
            ],
            "hours": hours,
            "form": WindowForm(tz=tz, initial=_room_day_initial(room, rules, day)),
            "any_free": any(not h["busy"] and not h["refusal"] for h in hours),
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
    initial = _desk_initial_for(person)
    form = DeskSearchForm(_window_query(request.GET, initial, _site_hours(site), desk=True), site=site, initial=initial)
    desks, window = None, None
    refusals = {}
    if form.is_bound and form.is_valid():
        window = form.window()
        desks = list(
            selectors.desk_search(site=site, zone=form.cleaned_data.get("zone"), free_from=window[0], free_to=window[1])
        )
        refusals = _refusals(person, window, desks)
    plan_window = form.window_or_initial()
    zone = form.cleaned_data.get("zone") if form.is_bound and form.is_valid() else None
    results = [{"desk": d, "refusal": refusals.get(("desk", d.pk))} for d in desks] if desks is not None else None
    return _render(
        request,
        "portal/bookings/desks.html",
        {
            "form": form,
            "desks": desks,
            "results": results,
            "bookable": [r for r in results or [] if r["refusal"] is None],
            "closed_notice": _closed_notice(refusals) if results else None,
            "window": window,
            "plan_window": plan_window,
            "site": site,
            "plans": _plans(
                site=site,
                person=person,
                window=plan_window,
                kinds=("desk",),
                floor_ids=[zone.floor_id] if zone else None,
            ),
        },
        tz=site.tz,
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _back(request, default: str) -> str:
    return local_target(request, request.POST.get("next")) or reverse(default)


def _what(booking: Booking) -> str:
    return booking.room.name if booking.room_id else _("desk %(label)s") % {"label": booking.desk.label}


def _booked(request, booking: Booking, *, count: int = 1, skipped=(), closed=()) -> HttpResponse:
    """After a booking: My bookings, with the new booking's confirmation (and its "add to my calendar")."""
    tz = booking.site.tz
    start, end = booking.start.astimezone(tz), booking.end.astimezone(tz)
    what = _what(booking)
    when = f"{dates.short_day(start)} {start:%H:%M}–{dates.end_time(end)}"
    if count > 1:
        messages.success(
            request, _("Booked %(what)s %(count)d times from %(when)s.") % {"what": what, "count": count, "when": when}
        )
    else:
        messages.success(request, _("Booked %(what)s on %(when)s.") % {"what": what, "when": when})
    if booking.created_by_id and booking.organiser_id != booking.created_by_id:  # staff booked on someone's behalf
        messages.info(
            request,
            _("Booked for %(who)s: it is in their bookings, not in yours.") % {"who": booking.organiser.display_name},
        )
    taken = [day for day in skipped if day not in closed]

    def days(isos) -> str:  # the local days the series service names in ISO, as the language writes them
        return ", ".join(dates.long_day(date.fromisoformat(iso)) for iso in isos[:10])

    if taken:
        messages.warning(request, _("Not booked (already taken): %(dates)s.") % {"dates": days(taken)})
    if closed:
        messages.warning(
            request,
            _("Not booked (%(site)s is closed): %(dates)s.") % {"site": booking.site.name, "dates": days(closed)},
        )
    return redirect(f"{reverse('portal:my-bookings')}?booked={booking.pk}")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def book(request):
    """One button on a search's result books it. A GET is where signing in again leads after the session ended on
    that button (the POST is gone): back to the search it was pressed on, to press it again."""
    if request.method != "POST":
        return redirect(local_target(request, request.GET.get("next")) or reverse("portal:rooms"))
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    form = BookForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That booking request was not complete; please try again."))
        return redirect(_back(request, "portal:rooms"))
    data = form.cleaned_data
    room = Room.objects.select_related("site").filter(pk=data.get("room"), is_active=True).first()
    desk = Desk.objects.select_related("site").filter(pk=data.get("desk"), is_active=True).first()
    if (room is None) == (desk is None):
        messages.error(request, _("Choose a room or a desk."))
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
        messages.error(request, _("Not booked: %(reason)s") % {"reason": exc.detail})
        return redirect(_back(request, "portal:rooms"))
    return _booked(request, booking)


def _resource_asked(params) -> tuple[Room | None, Desk | None]:
    def pk(name):
        value = params.get(name, "")
        return ascii_int(value)

    room = Room.objects.select_related("site", "floor").filter(pk=pk("room"), is_active=True).first()
    desk = None if room else Desk.objects.select_related("site", "floor", "zone").filter(pk=pk("desk")).first()
    if desk is not None and not desk.is_active:
        desk = None
    return room, desk


@login_required
def book_form(request):
    """The full booking form for one room or desk (from the plan, a room's free hour, or "more options"):
    the window, and for a room its title, attendees and repetition; staff choose for whom."""
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    if request.method not in {"GET", "POST"}:
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    params = request.POST if request.method == "POST" else request.GET
    if not {"room", "desk"} & set(params) and not {"room", "desk"} & set(request.GET):
        return redirect("portal:rooms")  # nothing asked for (an old link, a sign-in that lost the form): choose
    room, desk = _resource_asked(params)
    resource = room or desk
    if resource is None or resource.site_id != person.site_id:
        raise Http404("No such room or desk.")
    tz = resource.site.tz
    rules = _site_hours(resource.site)
    initial = _room_initial(resource.site, rules) if room else _desk_initial(resource.site)
    bound = request.method == "POST" or not {"date", "start", "end"}.isdisjoint(request.GET)
    if request.method == "GET" and bound:
        params = _window_query(params, initial, rules, desk=desk is not None)
    form = BookingForm(params if bound else None, actor=person, room=room, initial=initial)
    window = form.window_or_initial() if (not bound or form.is_valid()) else None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        start, end = window
        organiser = data.get("organiser") or person
        common = {
            "actor": person,
            "room": room,
            "desk": desk,
            "organiser": organiser,
            "start": start,
            "end": end,
            "title": data.get("title", ""),
            "attendees": data.get("attendees") or [],
        }
        try:
            if form.rrule():
                result = services.booking_series_create(**common, rrule=form.rrule(), skip_conflicts=True)
                if result.bookings:
                    return _booked(
                        request,
                        result.bookings[0],
                        count=len(result.bookings),
                        skipped=result.skipped,
                        closed=result.closed,
                    )
                form.add_error(None, _("None of these times is free."))
            else:
                return _booked(request, services.booking_create(**common, source=BookingSource.PORTAL))
        except DomainError as exc:
            form.add_error(None, _("Not booked: %(reason)s") % {"reason": exc.detail})
        status = 400
    elif request.method == "POST":
        status = 400
    refusal = None
    if window is not None and request.method == "GET":
        refusal = _refusals(person, window, [resource]).get(("room" if room else "desk", resource.pk))
    return _render(
        request,
        "portal/bookings/book.html",
        {
            "form": form,
            "room": room,
            "desk": desk,
            "resource": resource,
            "window": window,
            "refusal": refusal,
            "rooms_held": [b for b in _rooms_held(person, window) if room and b.room_id != room.pk],
            "tz": tz,
        },
        tz=tz,
        status=status,
    )


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
            "running": services.cancelling_ends(b, now=now),  # "End now", not "Cancel"
        }
        for b in upcoming
    ]
    booked_pk = ascii_int(request.GET.get("booked", ""))
    booked = next((r for r in rows if r["booking"].pk == booked_pk), None) if booked_pk is not None else None
    context = {"rows": rows, "tz": tz, "booked": booked}
    if booked is not None:
        # "Add to my calendar": the booking's .ics, and the person's own calendar once connected (it follows by
        # itself) or the way to connect it.
        context["own_calendar"] = personal_calendars.personal_calendar_status(person)
    return _render(request, "portal/bookings/my_bookings.html", context, tz=tz)


def _own_booking(request, pk: int) -> Booking:
    return get_object_or_404(selectors.booking_list_for(person=_person(request)), pk=pk)


@login_required
def booking_cancel(request, pk: int):
    """GET: "Cancel Fjord, Tue 3 Mar 11:00-12:00?" naming the booking; POST: cancel it (this one, or with
    ``scope=following`` this and the later ones of its series)."""
    booking = _own_booking(request, pk)
    if request.method == "GET":
        tz = booking.site.tz
        return _render(
            request,
            "portal/bookings/cancel.html",
            {
                "booking": booking,
                "what": _what(booking),
                "start": booking.start.astimezone(tz),
                "end": booking.end.astimezone(tz),
                "scope": CancelScope.FOLLOWING if request.GET.get("scope") == CancelScope.FOLLOWING else "",
                "running": services.cancelling_ends(booking, now=timezone.now()),
                "over": booking.status not in {BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN},  # nothing to ask
                "tz": tz,
            },
            tz=tz,
        )
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    scope = request.POST.get("scope", CancelScope.ONE)
    ends_now = services.cancelling_ends(booking, now=timezone.now()) and scope == CancelScope.ONE
    try:
        services.booking_cancel(actor=_person(request), booking=booking, scope=scope)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, _("Booking ended: the room or desk is free now.") if ends_now else _("Booking cancelled.")
        )
    return redirect("portal:my-bookings")


@login_required
@require_GET
def booking_calendar(request, pk: int):
    """One booking as an .ics file: "add to my calendar" opens it in the phone's or computer's calendar."""
    booking = _own_booking(request, pk)
    body = ical.calendar_for([booking], name=str(booking.resource))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="booking-{booking.pk}.ics"'
    return response


@login_required
@require_POST
def calendar_feed(request):
    """A new private feed URL of all the person's bookings (the previous one stops working), shown once."""
    person = _person(request)
    if person is None:
        return redirect("portal:dashboard")
    token = services.calendar_feed_regenerate(person=person)
    url = request.build_absolute_uri(reverse("bookings-api:calendar-feed", args=[token]))
    return _render(
        request,
        "portal/bookings/calendar_feed.html",
        {"url": url, "webcal": "webcal://" + url.split("://", 1)[1]},
        tz=person.site.tz,
    )


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
        what = booking.room.name if booking.room_id else booking.desk.label
        messages.success(request, _("Checked in to %(what)s.") % {"what": what})
    return redirect("portal:my-bookings")
