"""The Django admin's site: its login is one more door of the one sign-in throttle, and staff need a second factor.

``LabsAdminConfig`` (labs/apps.py) makes this class ``admin.site``, so every ``admin.register`` lands here. The login
form checks the password and, for accounts with an authenticator, its code through ``labs.services`` exactly as the
portal and the API token do; staff without an authenticator are sent to set one up (``/admin/two-factor/``) before
any admin page opens.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from labs import services
from labs.errors import Conflict, Invalid, Throttled, Unauthenticated
from labs.redirects import local_target
from labs.second_factor import (
    ENROLMENT_KEY_SESSION,
    OneTimeCodeForm,
    enrolment,
    second_factor_device,
    second_factor_required,
)


class _CodeInput(forms.TextInput):
    """A one-time code is never shown back in a re-rendered form."""

    def format_value(self, value):
        return None


class AdminSignInForm(AdminAuthenticationForm):
    """Username, password and (for accounts with an authenticator) its code, all checked under the throttle."""

    code = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        max_length=16,
        strip=True,
        widget=_CodeInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("The 6-digit code from your authenticator app (leave empty if you have not set one up yet)."),
    )

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            user, device = services.sign_in_with_code(
                username=username,
                password=password,
                code=self.cleaned_data.get("code") or None,
                ip=services.client_ip(self.request),
                request=self.request,
            )
        except Throttled as exc:
            self.request.sign_in_throttled = True
            raise ValidationError(exc.detail, code=exc.code) from None
        except Unauthenticated as exc:
            if exc.code == Unauthenticated.code:
                raise self.get_invalid_login_error() from None
            raise ValidationError(exc.detail, code=exc.code) from None
        self.confirm_login_allowed(user)
        if device is not None:
            user.otp_device = device  # django-otp's user_logged_in receiver marks the session verified
        self.user_cache = user
        return self.cleaned_data


class LabsAdminSite(admin.AdminSite):
    login_form = AdminSignInForm
    login_template = "admin/labs/login.html"
    enrol_template = "admin/labs/two_factor.html"

    def has_permission(self, request) -> bool:
        user = request.user
        if not super().has_permission(request):
            return False
        return not second_factor_required(user) or getattr(user, "is_verified", lambda: False)()

    @method_decorator(sensitive_post_parameters("password", "code"))
    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        if getattr(request, "sign_in_throttled", False):
            response.status_code = 429
        return response

    def get_urls(self):
        return [
            path("two-factor/", self.two_factor, name="two-factor"),
            # Signing out needs no permission: staff still owing their second factor must be able to leave too.
            path("logout/", csrf_protect(never_cache(self.logout)), name="logout"),
            path("privacy/register/", self.admin_view(self.privacy_register), name="privacy-register"),
            *super().get_urls(),
        ]

    @method_decorator(sensitive_post_parameters("code"))
    @method_decorator(csrf_protect)
    @method_decorator(never_cache)
    def two_factor(self, request):
        """Set up an authenticator (staff without one): scan the QR code, then confirm with a code."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login", current_app=self.name))
        target = self._next(request)
        if second_factor_device(user=user) is not None:
            return redirect(target)
        form = OneTimeCodeForm(request.POST or None)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    device = services.second_factor_enrol(
                        user=user,
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
                    messages.success(request, "Two-factor authentication is on for your account.")
                    return redirect(target)
        context = {
            **self.each_context(request),
            "title": "Set up two-factor authentication",
            "form": form,
            "next": target,
            **enrolment(request),
        }
        request.current_app = self.name
        return TemplateResponse(request, self.enrol_template, context, status=status)

    def privacy_register(self, request):
        """The record of processing activities (GDPR Art. 30), generated from the declarations; ``?format=md`` or
        ``?format=csv`` downloads it."""
        from django.http import HttpResponse

        from labs import privacy

        fmt = request.GET.get("format", "")
        if fmt in {"md", "csv"}:
            body = privacy.register_markdown() if fmt == "md" else privacy.register_csv()
            content_type = "text/markdown; charset=utf-8" if fmt == "md" else "text/csv; charset=utf-8"
            response = HttpResponse(body, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="record-of-processing.{fmt}"'
            return response
        context = {
            **self.each_context(request),
            "title": _("Record of processing activities"),
            "entries": privacy.register(),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/labs/privacy_register.html", context)

    def _next(self, request) -> str:
        target = local_target(request, request.POST.get("next") or request.GET.get("next"))
        return target or reverse("admin:index", current_app=self.name)
