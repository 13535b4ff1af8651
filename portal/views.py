"""The portal's own pages: sign-in (the password, then an authenticator's code for accounts that have one), two-factor
set-up, sign-out and the dashboard. Each area adds its pages in views_<area>.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from labs import services
from labs.errors import Conflict, Invalid, Throttled, Unauthenticated
from labs.permissions import person_of
from labs.redirects import local_target
from labs.second_factor import (
    ENROLMENT_KEY_SESSION,
    OneTimeCodeForm,
    enrolment,
    second_factor_device,
    second_factor_required,
)
from portal import selectors

WRONG_CREDENTIALS = gettext_lazy("Wrong username or password.")


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}),
    )
    password = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


def _safe_next(request) -> str | None:
    """The ``next`` target if it is a path of this site (never an open redirect), else None."""
    return local_target(request, request.POST.get("next") or request.GET.get("next"))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
    """The password. Accounts with an authenticator go on to its code (``sign_in_code``) before they are signed in."""
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(_safe_next(request) or "portal:dashboard")
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            try:
                user = services.sign_in(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                    ip=services.client_ip(request),
                    request=request,
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            except Unauthenticated:
                form.add_error(None, WRONG_CREDENTIALS)
                status = 400
            else:
                if second_factor_device(user=user) is not None:
                    _pending_store(request, user)
                    return redirect(_url_with_next("portal:sign-in-code", _safe_next(request)))
                login(request, user)  # staff without an authenticator are sent to set one up from here
                return redirect(_safe_next(request) or "portal:dashboard")
    context = {"form": form, "next": _safe_next(request) or "", "idle": request.GET.get("idle") == "1"}
    return render(request, "portal/sign_in.html", context, status=status)


# Between the right password and the right code, the session holds who signed in, with which backend and when.
PENDING_SESSION_KEY = "sign_in_pending"


def _pending_store(request, user) -> None:
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "at": timezone.now().timestamp(),
    }


def _pending_user(request):
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    age = timezone.now().timestamp() - pending.get("at", 0)
    if not 0 <= age <= settings.SECOND_FACTOR_PENDING.total_seconds():
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is not None:
        user.backend = pending.get("backend")
    return user


def _url_with_next(name: str, target: str | None) -> str:
    url = reverse(name)
    return f"{url}?{urlencode({'next': target})}" if target else url


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request):
    """The second step for accounts with an authenticator: its current code, under the same throttle."""
    user = _pending_user(request)
    if user is None:
        return redirect(_url_with_next("portal:sign-in", _safe_next(request)))
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = services.sign_in_second_factor(
                    user=user, code=form.cleaned_data["code"], ip=services.client_ip(request)
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            except Unauthenticated as exc:
                form.add_error("code", exc.detail)
            else:
                request.session.pop(PENDING_SESSION_KEY, None)
                user.otp_device = device  # django-otp's user_logged_in receiver marks the session verified
                login(request, user, backend=user.backend)
                return redirect(_safe_next(request) or "portal:dashboard")
    context = {"form": form, "next": _safe_next(request) or ""}
    return render(request, "portal/sign_in_code.html", context, status=status)


@sensitive_post_parameters("code")
@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Two-factor authentication: set up an authenticator app (staff must), or see that it is on."""
    if second_factor_device(user=request.user) is not None:
        return render(request, "portal/two_factor.html", {"enabled": True, "required": True})
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = services.second_factor_enrol(
                    user=request.user,
                    key=request.session.get(ENROLMENT_KEY_SESSION, ""),
                    code=form.cleaned_data["code"],
                    ip=services.client_ip(request),
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            except (Unauthenticated, Invalid, Conflict) as exc:
                form.add_error("code", exc.detail)
            else:
                request.session.pop(ENROLMENT_KEY_SESSION, None)
                otp_login(request, device)
                messages.success(request, _("Two-factor authentication is on for your account."))
                return redirect(_safe_next(request) or "portal:dashboard")
    context = {
        "form": form,
        "next": _safe_next(request) or "",
        "required": second_factor_required(request.user),
        **enrolment(request),
    }
    return render(request, "portal/two_factor.html", context, status=status)


@require_POST
def sign_out(request):
    logout(request)
    return redirect("portal:sign-in")


@login_required
@require_http_methods(["GET", "HEAD"])
def dashboard(request):
    dashboard = selectors.dashboard_for(person=person_of(request.user))
    return render(request, "portal/dashboard.html", {"dashboard": dashboard, "person": dashboard.person})


@require_http_methods(["GET", "HEAD"])
def favicon(request):
    """Pages without the portal's ``<link rel="icon">`` (the admin, the API docs) make browsers ask for this."""
    return redirect(static("portal/favicon.svg"), permanent=True)
