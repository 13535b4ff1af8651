"""Portal pages for badges: my badge (a QR code that refreshes itself), visitors I host, the reception desk, and the
page a visitor opens from their email. Every change goes through badges.services; reads through badges.selectors.

The QR code is rendered on the server as inline SVG; htmx (a static file: the CSP allows no inline script) fetches
the fragment again right after the code's 30-second step ends (well within the readers' grace for the previous code),
and every few seconds besides, so a phone held up to a reader shows a code the reader accepts. Pages show times in the
site's zone: the person's site (the middleware), a visit's site on the visitor's own page (no account).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from badges import codes, selectors, services
from badges.qr import qr_svg
from labs.errors import DomainError
from labs.models import Site
from labs.permissions import is_host, is_staff, person_of
from labs.redirects import local_target
from labs.validators import validate_datetime_in_range, validate_single_line
from portal.responses import forbidden

QR_POLL_SECONDS = 5


def _qr_context(badge, *, at: datetime) -> dict:
    code = selectors.badge_current_code(badge=badge, at=at) if badge else None
    refresh_ms = codes.ms_left_in_step(at)
    return {
        "badge": badge,
        "code": code,
        "qr": qr_svg(code) if code else "",
        "seconds_left": codes.seconds_left_in_step(at),
        "poll_seconds": QR_POLL_SECONDS,
        # Fetch the next code as its step starts; the page greys this one out once readers no longer take it.
        "refresh_ms": refresh_ms,
        "valid_ms": refresh_ms + int(codes.grace_seconds() * 1000),
        "usable": bool(code),
    }


# --- my badge --------------------------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def badge(request):
    person = person_of(request.user)
    my_badge = selectors.badge_for_person(person=person) if person else None
    context = {"person": person, **_qr_context(my_badge, at=timezone.now())}
    return render(request, "portal/badges/badge.html", context)


@login_required
@never_cache
@require_http_methods(["GET"])
def badge_qr(request):
    """The QR fragment htmx swaps in every few seconds."""
    person = person_of(request.user)
    my_badge = selectors.badge_for_person(person=person) if person else None
    context = {"qr_url": request.path, **_qr_context(my_badge, at=timezone.now())}
    return render(request, "portal/badges/_qr.html", context)


# --- the visitor's own badge page (from the emailed link; no account) ------------------------------------------


def _visitor_badge_or_404(token: str):
    visit_badge = selectors.badge_from_visitor_token(token)
    if visit_badge is None:
        raise Http404("No such badge.")
    return visit_badge


@never_cache
@require_http_methods(["GET", "HEAD"])
def visitor_badge(request, token: str):
    visit_badge = _visitor_badge_or_404(token)
    context = {"visit": visit_badge.visit, "token": token, **_qr_context(visit_badge, at=timezone.now())}
    with timezone.override(visit_badge.visit.site.tz):  # the visitor has no account: the visit's site tells the zone
        return render(request, "portal/badges/visitor_badge.html", context)


@never_cache
@require_http_methods(["GET"])
def visitor_badge_qr(request, token: str):
    visit_badge = _visitor_badge_or_404(token)
    context = {"qr_url": request.path, **_qr_context(visit_badge, at=timezone.now())}
    return render(request, "portal/badges/_qr.html", context)


# --- visitors I host -------------------------------------------------------------------------------------------


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input, read in the chosen site's time zone by the form."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]

    def to_python(self, value):
        parsed = super().to_python(value)
        return timezone.make_naive(parsed) if parsed is not None and timezone.is_aware(parsed) else parsed


class VisitorInviteForm(forms.Form):
    name = forms.CharField(max_length=160, label=gettext_lazy("Visitor's name"), validators=[validate_single_line])
    email = forms.EmailField(max_length=254, label=gettext_lazy("Visitor's email"), validators=[validate_single_line])
    site = forms.ModelChoiceField(queryset=Site.objects.order_by("name"), empty_label=None, label=gettext_lazy("Site"))
    start = LocalDateTimeField(label=gettext_lazy("Arrives"), validators=[validate_datetime_in_range])
    end = LocalDateTimeField(
        label=gettext_lazy("Leaves"),
        help_text=gettext_lazy("At most 24 hours after the arrival."),
        validators=[validate_datetime_in_range],
    )
    purpose = forms.CharField(
        max_length=200, required=False, label=gettext_lazy("Purpose of the visit"), validators=[validate_single_line]
    )

    def clean(self):
        data = super().clean()
        site = data.get("site")
        if site is not None:
            for name in ("start", "end"):
                if data.get(name) is not None:
                    data[name] = data[name].replace(tzinfo=site.tz)
        return data


def _initial_invite(person) -> dict:
    local = timezone.now().astimezone(person.site.tz)
    start = (local + timedelta(minutes=15 - local.minute % 15)).replace(second=0, microsecond=0, tzinfo=None)
    return {"site": person.site_id, "start": start, "end": start + timedelta(hours=2)}  # wall-clock, site-local


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def visitors(request):
    person = person_of(request.user)
    if not is_host(person):
        return render(request, "portal/badges/not_host.html", status=403)
    form = VisitorInviteForm(request.POST or None, initial=_initial_invite(person))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                visit = services.visit_create(
                    host=person,
                    site=data["site"],
                    name=data["name"],
                    email=data["email"],
                    start=data["start"],
                    end=data["end"],
                    purpose=data["purpose"],
                )
            except DomainError as exc:
                for field, errors in exc.extra.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.extra:
                    form.add_error(None, exc.detail)
            else:
                messages.success(
                    request, _("%(name)s is registered; we emailed them their badge.") % {"name": visit.name}
                )
                return redirect("portal:visitors")
        status = 400
    context = {"form": form, "visits": selectors.visits_for_host(host=person), "person": person}
    return render(request, "portal/badges/visitors.html", context, status=status)


def _back(request, default: str):
    return redirect(local_target(request, request.POST.get("next")) or default)


def _visit_command(request, pk: int, call, done: str, default: str):
    """Run a visit command; a refusal answers with its status (409 ``not_arrived``...), says why and links back."""
    person = person_of(request.user)
    visit = get_object_or_404(selectors.visits_visible_to(person), pk=pk)
    try:
        call(actor=person, visit=visit)
    except DomainError as exc:
        back = local_target(request, request.POST.get("next")) or reverse(default)
        context = {"detail": exc.detail, "code": exc.code, "visit": visit, "back": back}
        return render(request, "portal/badges/refused.html", context, status=exc.status_code)
    else:
        messages.success(request, done % {"name": visit.name})
    return _back(request, default)


@login_required
@require_POST
def visit_check_out(request, pk: int):
    return _visit_command(request, pk, services.visit_check_out, _("%(name)s is checked out."), "portal:visitors")


@login_required
@require_POST
def visit_cancel(request, pk: int):
    return _visit_command(
        request, pk, services.visit_cancel, _("The visit of %(name)s is cancelled."), "portal:visitors"
    )


# --- reception (staff) -----------------------------------------------------------------------------------------


class ReceptionFilterForm(forms.Form):
    """Any day (a date picker: ISO value whatever the language) and a search over visitors and hosts."""

    day = forms.DateField(
        required=False,
        label=gettext_lazy("Day"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    q = forms.CharField(
        required=False,
        max_length=100,
        label=gettext_lazy("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("Visitor, email or host")}),
    )


def _reception_staff(request):
    person = person_of(request.user)
    return person if is_staff(person) else None


@login_required
@require_http_methods(["GET", "HEAD"])
def reception(request):
    person = _reception_staff(request)
    if person is None:
        return forbidden(request, _("Only staff see the reception desk."))
    now = timezone.now()
    today = now.astimezone(person.site.tz).date()
    form = ReceptionFilterForm(request.GET or None, initial={"day": today})
    day, query = today, ""
    if form.is_valid():
        day = form.cleaned_data["day"] or today
        query = form.cleaned_data["q"].strip()
    elif form.is_bound:
        return render(request, "portal/badges/reception.html", {"form": form, "site": person.site}, status=400)
    context = {
        "form": form,
        "site": person.site,
        "day": day,
        "today": today,
        "is_today": day == today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "query": query,
        "visits": selectors.visits_for_reception(site=person.site, day=day, query=query),
        "kiosks": person.site.kiosks.filter(revoked_at=None).order_by("name"),
        "now": now,
    }
    return render(request, "portal/badges/reception.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def reception_badge(request, pk: int):
    """A printable visitor badge: name, host, day, and a QR code of the visitor's own badge page (their phone shows
    the rotating code that opens doors; a printed code would stop working within a minute)."""
    person = _reception_staff(request)
    if person is None:
        return forbidden(request, _("Only staff see the reception desk."))
    visit = get_object_or_404(selectors.visits_visible_to(person).filter(site=person.site), pk=pk)
    digital = visit.badges.filter(kind="digital").order_by("-issued_at").first()
    link = selectors.visitor_badge_url(digital) if digital else ""
    context = {"visit": visit, "badge": digital, "link": link, "qr": qr_svg(link) if link else ""}
    with timezone.override(visit.site.tz):
        return render(request, "portal/badges/print_badge.html", context)


@login_required
@require_POST
def reception_check_in(request, pk: int):
    return _visit_command(request, pk, services.visit_check_in, _("%(name)s is checked in."), "portal:reception")
