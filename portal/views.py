"""The portal's own pages: sign-in, sign-out and the dashboard. Each area adds its pages in views_<area>.py."""

from __future__ import annotations

from django import forms
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from labs import services
from labs.errors import Throttled, Unauthenticated
from labs.permissions import person_of
from portal import selectors

WRONG_CREDENTIALS = "Wrong username or password."


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}),
    )
    password = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


def _safe_next(request) -> str | None:
    """The ``next`` target if it stays on this host (never an open redirect), else None."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
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
                login(request, user)
                return redirect(_safe_next(request) or "portal:dashboard")
    return render(request, "portal/sign_in.html", {"form": form, "next": _safe_next(request) or ""}, status=status)


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
