"""Portal: "my workspace": my preferences, check in/out at a desk, and the live state of my desk and zone."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from bookings.models import Desk
from comfort import contract, selectors, services
from labs.errors import DomainError
from labs.permissions import person_of
from labs.validators import ascii_int


class PreferenceForm(forms.Form):
    desk_sit_height_mm = forms.IntegerField(
        label=gettext_lazy("Sitting desk height (mm)"),
        min_value=contract.DESK_HEIGHT_MM[0],
        max_value=contract.DESK_HEIGHT_MM[1],
    )
    desk_stand_height_mm = forms.IntegerField(
        label=gettext_lazy("Standing desk height (mm)"),
        min_value=contract.DESK_HEIGHT_MM[0],
        max_value=contract.DESK_HEIGHT_MM[1],
    )
    temperature_c = forms.DecimalField(
        label=gettext_lazy("Temperature (°C)"),
        min_value=contract.SETPOINT_C[0],
        max_value=contract.SETPOINT_C[1],
        max_digits=3,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"step": "0.5"}),
    )
    fan_speed_pct = forms.IntegerField(label=gettext_lazy("Fan speed (%)"), min_value=0, max_value=100)


def _posted_desk(request, person, **filters) -> Desk:
    """The desk named by the form's ``desk`` field at the person's site; anything else (missing, not a number) 404s."""
    pk = ascii_int(request.POST.get("desk", ""))
    if pk is None:
        raise Http404("No such desk.")
    return get_object_or_404(Desk, pk=pk, site=person.site, **filters)


def _person_or_none(request):
    return person_of(request.user)


def _context(person, form=None) -> dict:
    preference = selectors.preference_of(person=person)
    form = form or PreferenceForm(initial={name: getattr(preference, name) for name in services.PREFERENCE_FIELDS})
    state = selectors.workspace_state(person=person)
    desks = (
        []
        if state["booking"]
        else list(Desk.objects.filter(site=person.site, is_active=True).select_related("zone").order_by("label"))
    )
    return {"person": person, "form": form, "state": state, "desks": desks}


@login_required
@require_GET
def workspace(request):
    person = _person_or_none(request)
    if person is None:
        return redirect("portal:dashboard")
    return render(request, "portal/comfort/workspace.html", _context(person))


@login_required
@require_POST
def workspace_preferences(request):
    person = _person_or_none(request)
    if person is None:
        return redirect("portal:dashboard")
    form = PreferenceForm(request.POST)
    if form.is_valid():
        try:
            _preference, commands = services.preference_update(person=person, data=form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if commands:
                messages.success(request, _("Preferences saved and applied to your desk and zone."))
            else:
                messages.success(request, _("Preferences saved."))
            return redirect("portal:workspace")
    return render(request, "portal/comfort/workspace.html", _context(person, form), status=400)


@login_required
@require_POST
def workspace_check_in(request):
    person = _person_or_none(request)
    if person is None:
        return redirect("portal:dashboard")
    desk = _posted_desk(request, person, is_active=True)
    try:
        services.workspace_check_in(person=person, desk=desk)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Checked in at desk %(desk)s.") % {"desk": desk.label})
    return redirect("portal:workspace")


@login_required
@require_POST
def workspace_check_out(request):
    person = _person_or_none(request)
    if person is None:
        return redirect("portal:dashboard")
    desk = _posted_desk(request, person)
    try:
        services.workspace_check_out(person=person, desk=desk)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Checked out of desk %(desk)s.") % {"desk": desk.label})
    return redirect("portal:workspace")


@login_required
@require_GET
def workspace_live(request):
    """The live panel alone; htmx polls it (hx-trigger="every 2s") and swaps it in place."""
    person = _person_or_none(request)
    if person is None:
        return render(request, "portal/comfort/_live.html", {"state": {"booking": None}})
    return render(request, "portal/comfort/_live.html", {"state": selectors.workspace_state(person=person)})
