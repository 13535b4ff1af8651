"""The reception kiosk: a tablet where a walk-in visitor registers (name, email, whom they visit, the house rules).

Authorisation (docs/portal.md, "Reception kiosk"): staff of a site set a device up from the reception page. The
device then holds a signed, HttpOnly cookie naming a ``badges.Kiosk`` row of that site, and the staff member is signed
out of it, so the tablet carries no staff session: a visitor who walks off with it, or opens another page, gets
nothing but this form. Staff revoke a kiosk on the reception page (or in the admin); its cookie stops at once.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from badges import selectors, services
from labs.errors import DomainError
from labs.permissions import is_staff, person_of
from labs.validators import validate_single_line
from portal.responses import forbidden

KIOSK_COOKIE = "labs_kiosk"


class WalkInForm(forms.Form):
    name = forms.CharField(max_length=160, label=gettext_lazy("Your name"), validators=[validate_single_line])
    email = forms.EmailField(max_length=254, label=gettext_lazy("Your email"), validators=[validate_single_line])
    host = forms.CharField(
        max_length=160,
        label=gettext_lazy("Who are you visiting?"),
        help_text=gettext_lazy("Their full name, as they gave it to you."),
        validators=[validate_single_line],
    )
    accepts_house_rules = forms.BooleanField(
        required=False, label=gettext_lazy("I have read and accept the house rules")
    )

    def __init__(self, *args, site=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="name", autocapitalize="words")
        self.fields["email"].widget.attrs.update(autocomplete="email", inputmode="email")
        self.fields["host"].widget.attrs.update(autocomplete="off")
        if not (site and site.house_rules.strip()):
            del self.fields["accepts_house_rules"]


def _kiosk(request):
    return selectors.kiosk_from_token(request.COOKIES.get(KIOSK_COOKIE))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def kiosk(request):
    kiosk = _kiosk(request)
    if kiosk is None:
        return render(request, "portal/kiosk/not_set_up.html", status=403)
    site = kiosk.site
    form = WalkInForm(request.POST or None, site=site)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                visit = services.visit_walk_in(
                    kiosk=kiosk,
                    name=data["name"],
                    email=data["email"],
                    host=data["host"],
                    accepts_house_rules=data.get("accepts_house_rules", False),
                )
            except DomainError as exc:
                status = exc.status_code  # 400 a field, 429 kiosk_busy
                for field, errors in exc.extra.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.extra:
                    form.add_error(None, exc.detail)
            else:
                context = {"visit": visit, "site": site, "kiosk": kiosk}
                return render(request, "portal/kiosk/welcome.html", context)
    context = {"form": form, "site": site, "kiosk": kiosk}
    return render(request, "portal/kiosk/kiosk.html", context, status=status)


@login_required
@require_POST
def kiosk_set_up(request):
    """Staff turn this device into their site's kiosk: a kiosk cookie in, the staff session out."""
    person = person_of(request.user)
    if not is_staff(person):
        return forbidden(request, _("Only staff set up a kiosk."))
    new = services.kiosk_create(actor=person, name=request.POST.get("name", ""))
    logout(request)
    response = redirect("portal:kiosk")
    response.set_cookie(
        KIOSK_COOKIE,
        selectors.kiosk_token(new),
        max_age=int(timedelta(days=settings.KIOSK_COOKIE_DAYS).total_seconds()),
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Strict",
    )
    return response


@login_required
@require_POST
def kiosk_revoke(request, pk: int):
    person = person_of(request.user)
    if not is_staff(person):
        return forbidden(request, _("Only staff switch kiosks off."))
    target = get_object_or_404(person.site.kiosks.all(), pk=pk)
    services.kiosk_revoke(actor=person, kiosk=target)
    messages.success(request, _("The kiosk %(name)s is switched off.") % {"name": target.name})
    return redirect("portal:reception")
