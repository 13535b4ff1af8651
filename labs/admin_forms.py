"""Admin forms whose save is a service call, and labels that name the time zone the admin shows.

Django's admin validates a form, then saves the object raw. A ``ServiceModelForm`` makes the service call the last
step of validation instead (:meth:`ServiceModelForm.apply`), so whatever the service refuses (a conflict, a broken
rule, a permission) is a form error on the same page, with the input kept, never a 500 or a raw write. A refused
call writes nothing: the service is atomic, and so is the admin's request. For pages without inlines only (an invalid
inline would not undo a service call that already ran).

Who acts: the signed-in account's Person (``labs.services`` explains why a bare superuser cannot act).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy

from labs import dates
from labs.errors import DomainError
from labs.models import Person
from labs.permissions import person_of

NO_ACTOR = gettext_lazy(
    "Your account has no Person, and changes here follow the same rules as everywhere else, which need one: give "
    "your account a staff Person (People → Add person), then try again."
)


def apply_each(modeladmin, request, queryset, done_label: str, call) -> None:
    """An admin action that calls a service for each selected row as the signed-in person: a refusal is a message
    naming the row, the reason and its stable code, never a 500; then one message counts what was done
    (``done_label``, translated: "Suspended: 3.")."""
    actor = person_of(request.user)
    if actor is None:
        modeladmin.message_user(request, NO_ACTOR, messages.ERROR)
        return
    done = 0
    for obj in queryset:
        try:
            call(actor, obj)
            done += 1
        except DomainError as exc:
            words = {"obj": obj, "reason": exc.detail, "code": exc.code}
            modeladmin.message_user(request, gettext("%(obj)s: %(reason)s [%(code)s]") % words, messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{done_label}: {done}.", messages.SUCCESS)


def in_current_zone(label):
    """``"<label> (<zone>)"`` ("Start (Copenhagen time)", "Slut (København-tid)"), worked out when it is shown, in
    the request's language: ``label`` is lazy, and the zone is the one this request shows and takes times in (the
    signed-in person's site zone, activated by labs.middleware.SiteTimeZoneMiddleware; UTC for a bare account)."""
    return lazy(lambda: f"{capfirst(label)} ({current_zone_name()})", str)()


def current_zone_name() -> str:
    """The zone this request shows times in, as people say it ("Copenhagen time"; labs.dates.zone_name)."""
    return dates.zone_name(timezone.get_current_timezone_name())


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """A domain error on the form: its field lists on their fields, else its message above the form."""
    placed = False
    for name, errors in exc.extra.items():
        if name in form.fields and isinstance(errors, list | tuple):
            form.add_error(name, [str(m) for m in errors])
            placed = True
    if not placed:
        form.add_error(None, exc.detail)


def add_validation_error(form: forms.BaseForm, exc: ValidationError) -> None:
    """A model's ValidationError on the form: errors of fields the form shows on them, the rest above it."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


class ServiceModelForm(forms.ModelForm):
    """A ModelForm that saves by calling a service from :meth:`apply`, once the fields are valid."""

    actor: Person | None = None  # the acting Person, set per request by ServiceFormAdminMixin.get_form
    actor_required = True

    def apply(self) -> Model:
        """Call the service with ``self.cleaned_data`` (``self.instance`` is the stored object, untouched) and return
        the saved object."""
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Not ModelForm's: it would copy the input onto self.instance and validate the model, which the service does
        # (and the services compare the stored object with the new values).
        if self.errors:
            return
        if self.actor_required and self.actor is None:
            self.add_error(None, NO_ACTOR)
            return
        try:
            self.instance = self.apply()
        except DomainError as exc:
            add_domain_error(self, exc)
        except ValidationError as exc:
            add_validation_error(self, exc)

    def save(self, commit: bool = True) -> Model:
        self.save_m2m = lambda: None
        return self.instance


class ServiceFormAdminMixin:
    """For a ModelAdmin whose forms are ServiceModelForms: the form knows who acts, and the admin saves nothing."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": person_of(request.user)})

    def save_model(self, request, obj, form, change) -> None:
        """The form's service call saved it."""
