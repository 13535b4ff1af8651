"""Account pages: choosing a password from an emailed link (onboarding; "forgot password" will reuse it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from labs import services
from labs.errors import Invalid


class SetPasswordView(PasswordResetConfirmView):
    """``/set-password/<uidb64>/<token>/``: the person chooses a password; the password validators apply.

    Django's view checks the link (PasswordResetTokenGenerator: single use, PASSWORD_RESET_TIMEOUT) and moves the
    token out of the URL into the session before showing the form, so it never leaks in a Referer. Saving goes
    through ``labs.services.user_set_password``, which also ends any sign-in made with an earlier password. A
    deactivated account's link does not work.
    """

    template_name = "portal/set_password.html"
    success_url = reverse_lazy("portal:sign-in")
    title = "Choose your password"

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        try:
            services.user_set_password(user=self.user, password=form.cleaned_data["new_password1"])
        except Invalid as exc:
            form.add_error("new_password2", exc.extra.get("password") or exc.detail)
            return self.form_invalid(form)
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        messages.success(
            self.request, _("Your password is set. Sign in as %(username)s.") % {"username": self.user.get_username()}
        )
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response
