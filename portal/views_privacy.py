"""Portal pages for a person's rights and account: download my data, consents, erase my account, change or reset the
password, and the community directory (only people who consent to be in it). Every page calls the same services as
the API (labs.services_privacy, labs.services_accounts)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from labs import rights, services, services_accounts, services_privacy
from labs.errors import DomainError, Forbidden, Invalid, Throttled
from labs.models import ConsentChannel, ConsentPurpose, Person
from labs.permissions import person_of

MENTOR_NOTICE = services_privacy.MENTOR_NOTICE


def _person_or_404(request) -> Person:
    from django.http import Http404

    person = person_of(request.user)
    if person is None:
        raise Http404(_("This account has no person record."))
    return person


# --- My data: export and consents ------------------------------------------------------------------------------


def _kept(export: dict) -> list[tuple[str, str]]:
    """What stays after erasure, each under its section's title in the reader's language."""
    titles = rights.section_titles()
    return [(titles.get(name, name), text) for name, text in export["kept_after_erasure"].items()]


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def my_data(request):
    person = _person_or_404(request)
    export = services_privacy.person_export(actor=person, person=person)
    titles = rights.section_titles()
    sections = [(titles.get(name, name), len(rows)) for name, rows in export["sections"].items()]
    current = services_privacy.consents_current(person=person)
    consents = [
        {"purpose": purpose, "label": ConsentPurpose(purpose).label, "row": row, "granted": bool(row and row.granted)}
        for purpose, row in current.items()
    ]
    context = {
        "person": person,
        "sections": sections,
        "consents": consents,
        "history": person.consents.order_by("-at", "-id")[:50],
        "text_version": services_privacy.CONSENT_TEXT_VERSION,
    }
    return render(request, "portal/privacy/my_data.html", context)


@login_required
@never_cache
@require_http_methods(["GET"])
def my_data_download(request):
    """The same JSON as ``GET /api/v1/me/export/``, as a file."""
    person = _person_or_404(request)
    body = json.dumps(services_privacy.person_export(actor=person, person=person), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response


@login_required
@require_POST
def consent_set(request):
    """One click: grant or withdraw one purpose."""
    person = _person_or_404(request)
    purpose = request.POST.get("purpose", "")
    granted = request.POST.get("granted") == "1"
    try:
        services_privacy.consents_set(person=person, choices={purpose: granted}, channel=ConsentChannel.PORTAL)
    except Invalid as exc:
        messages.error(request, exc.detail)
    else:
        label = ConsentPurpose(purpose).label if purpose in ConsentPurpose.values else purpose
        messages.success(request, (_("Consent given: %s") if granted else _("Consent withdrawn: %s")) % label)
    return redirect("portal:my-data")


# --- Erase my account ------------------------------------------------------------------------------------------


class EraseForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Your password"), strip=False, widget=forms.PasswordInput)
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that my account and my data are erased and that this cannot be undone.")
    )


@login_required
@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def erase_account(request):
    person = _person_or_404(request)
    form = EraseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services_privacy.person_erase_self(
                    person=person, password=form.cleaned_data["password"], ip=services.client_ip(request)
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            except Forbidden:
                form.add_error("password", _("Wrong password."))
                status = 403
            else:
                logout(request)
                messages.success(request, _("Your account and your personal data are erased."))
                return redirect("portal:sign-in")
    export = services_privacy.person_export(actor=person, person=person)
    context = {"person": person, "form": form, "kept": _kept(export)}
    return render(request, "portal/privacy/erase.html", context, status=status)


# --- Password: change, and reset by email ----------------------------------------------------------------------


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=gettext_lazy("Current password"), strip=False, widget=forms.PasswordInput)
    new_password1 = forms.CharField(label=gettext_lazy("New password"), strip=False, widget=forms.PasswordInput)
    new_password2 = forms.CharField(label=gettext_lazy("Repeat it"), strip=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data


@login_required
@never_cache
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services_accounts.password_change(
                    user=request.user,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                    ip=services.client_ip(request),
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            except Forbidden as exc:
                form.add_error("old_password", exc.detail)
            except Invalid as exc:
                form.add_error("new_password1", exc.extra.get("password") or exc.detail)
            else:
                logout(request)
                messages.success(request, _("Your password is changed. Sign in with the new one."))
                return redirect("portal:sign-in")
    return render(request, "portal/privacy/password_change.html", {"form": form}, status=status)


class PasswordResetForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Your email address"), max_length=254)


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = PasswordResetForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services_accounts.password_reset_request(
                    email=form.cleaned_data["email"], ip=services.client_ip(request)
                )
            except Throttled as exc:
                form.add_error(None, exc.detail)
                status = 429
            else:
                messages.success(
                    request,
                    _("If an account has this address, we have emailed it a link to choose a new password."),
                )
                return redirect("portal:sign-in")
    return render(request, "portal/privacy/password_reset.html", {"form": form}, status=status)


# --- Community directory (consent: community) --------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def community(request):
    """People of the site who consent to be shown to other members; mentors among them, with the mentor notice."""
    person = _person_or_404(request)
    try:
        people = services_privacy.community_directory(viewer=person)
    except DomainError as exc:
        messages.error(request, exc.detail)
        people = []
    context = {
        "person": person,
        "people": people,
        "listed": services_privacy.consent_given(person=person, purpose=ConsentPurpose.COMMUNITY),
        "mentor_notice": MENTOR_NOTICE,
    }
    return render(request, "portal/privacy/community.html", context)
