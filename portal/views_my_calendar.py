"""The member's "My calendar" page: connect their own Google or Microsoft 365 calendar (authorization code with PKCE
and state: the flow waits in their session, never in the URL; Microsoft posts its answer, so its code is never in a
URL either), see its status, disconnect it. Thin: the consent is
calendars.providers.personal's, the rest calendars.personal's services."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from calendars import personal
from calendars.models import PersonalCalendar
from calendars.providers import personal as consent
from calendars.providers.base import ProviderError
from labs import crypto
from labs.errors import DomainError
from labs.permissions import person_of

logger = logging.getLogger(__name__)
_FLOW = "calendar_consent_flow"
_ANSWER_COOKIE = "labs_calendar_answer"  # a posted consent answer, between the provider's POST and our GET
_ANSWER_FIELDS = ("code", "state", "session_state", "client_info", "error", "error_description", "error_uri")
_ANSWER_FIELD_MAX = 2048
_ANSWER_COOKIE_MAX = 3800  # under the 4,096 bytes a browser keeps per cookie, name and attributes included
_ANSWER_TTL_S = 300


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


@csrf_exempt  # the provider's page posts it: the flow's state (and PKCE) tie the answer to this browser's consent
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def callback(request, provider: str):
    """The provider's answer: in the query (Google), or posted (Microsoft, ``response_mode=form_post``)."""
    if request.method == "POST":
        return _keep_posted_answer(request, provider)
    return _finish(request, provider)


def _keep_posted_answer(request, provider: str):
    """A posted answer comes from the provider's page, a cross-site POST, which carries no session cookie
    (SameSite=Lax): keep it, encrypted and for a few minutes, in a cookie of this path only, and send the browser back
    here with a GET, which carries the session. The code never appears in a URL."""
    if provider not in personal.PROVIDERS:
        raise Http404("No such calendar provider.")
    answer = {name: request.POST[name][:_ANSWER_FIELD_MAX] for name in _ANSWER_FIELDS if name in request.POST}
    response = HttpResponseRedirect(request.path, status=303)
    kept = crypto.encrypt_json(answer)
    if len(kept) <= _ANSWER_COOKIE_MAX:  # larger than a browser keeps: the GET finds none and says so
        response.set_cookie(
            _ANSWER_COOKIE,
            kept,
            max_age=_ANSWER_TTL_S,
            path=request.path,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def _posted_answer(request) -> dict | None:
    kept = request.COOKIES.get(_ANSWER_COOKIE)
    if kept is None:
        return None
    try:
        answer = crypto.decrypt_json(kept, ttl=_ANSWER_TTL_S)
    except (crypto.Undecryptable, ValueError):
        return {}  # expired or altered: an answer without state, which the consent refuses
    return answer if isinstance(answer, dict) else {}


@login_required
def _finish(request, provider: str):
    person = _person(request)
    flow = request.session.pop(_FLOW, None)
    posted = _posted_answer(request)
    params = request.GET.dict() if posted is None else posted
    response = _finish_consent(request, person, provider, flow, params)
    if posted is not None:
        response.delete_cookie(_ANSWER_COOKIE, path=request.path, samesite="Lax")
    return response


def _finish_consent(request, person, provider: str, flow: dict | None, params: dict):
    try:
        grant = consent.authorization_finish(provider, flow=flow or {}, params=params)
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
