"""The member's "My calendar" page: connect their own Google or Microsoft 365 calendar (authorization code with PKCE
and state: the flow waits in their session, never in the URL), see its status, disconnect it. Thin: the consent is
calendars.providers.personal's, the rest calendars.personal's services."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from calendars import personal
from calendars.models import PersonalCalendar
from calendars.providers import personal as consent
from calendars.providers.base import ProviderError
from labs.errors import DomainError
from labs.permissions import person_of

logger = logging.getLogger(__name__)
_FLOW = "calendar_consent_flow"


def _person(request):
    person = person_of(request.user)
    if person is None:
        raise Http404("No person.")
    return person


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def my_calendar(request):
    person = _person(request)
    calendar = PersonalCalendar.objects.filter(person=person).first()
    return render(
        request,
        "portal/calendars/mine.html",
        {
            "calendar": calendar,
            "status": personal.personal_calendar_status(person),
            "providers": [
                {"name": "google", "label": "Google Calendar", "available": consent.configured("google")},
                {"name": "microsoft", "label": "Microsoft 365 (Outlook)", "available": consent.configured("microsoft")},
            ],
            "booking_domain": personal.settings.CALENDAR_BOOKING_DOMAIN,
        },
    )


def _redirect_uri(request, provider: str) -> str:
    return request.build_absolute_uri(reverse("portal:my-calendar-callback", kwargs={"provider": provider}))


@login_required
@never_cache
@require_GET
def connect(request, provider: str):
    person = _person(request)
    if provider not in personal.PROVIDERS or not consent.configured(provider):
        raise Http404("No such calendar provider.")
    try:
        url, flow = consent.authorization_start(
            provider, redirect_uri=_redirect_uri(request, provider), login_hint=person.user.email or ""
        )
    except ProviderError as exc:
        messages.error(request, _("The calendar provider could not be reached: %(error)s") % {"error": exc})
        return redirect("portal:my-calendar")
    request.session[_FLOW] = flow
    return HttpResponseRedirect(url)


@login_required
@never_cache
@require_GET
def callback(request, provider: str):
    person = _person(request)
    flow = request.session.pop(_FLOW, None)
    try:
        grant = consent.authorization_finish(provider, flow=flow or {}, params=request.GET.dict())
        calendar = personal.personal_calendar_connect(person=person, provider=provider, grant=grant)
    except (ProviderError, DomainError) as exc:
        logger.info("calendar consent of person %s failed: %s", person.pk, exc)
        messages.error(request, _("Your calendar was not connected: %(error)s") % {"error": exc})
    else:
        messages.success(
            request,
            _("Your calendar %(account)s is connected: your room bookings will appear in it.")
            % {"account": calendar.account},
        )
    return redirect("portal:my-calendar")


@login_required
@require_POST
def disconnect(request):
    person = _person(request)
    try:
        personal.personal_calendar_disconnect(person=person)
    except ProviderError as exc:
        messages.error(request, _("Could not disconnect: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Your calendar is disconnected; what Labs had synced from it is deleted."))
    return redirect("portal:my-calendar")
