"""Admin for the core domain. People and accounts change through the person services (labs/services.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from labs import floor_plans, services, services_privacy
from labs.admin_forms import NO_ACTOR, ServiceFormAdminMixin, ServiceModelForm, apply_each
from labs.errors import DomainError
from labs.models import (
    Company,
    Consent,
    ConsentPurpose,
    ErasureLog,
    Floor,
    MqttCredential,
    OutboxMessage,
    Person,
    PersonalDataAccess,
    SignInCounter,
    Site,
    Zone,
)
from labs.permissions import person_of
from labs.validators import ascii_int, validate_single_line

User = get_user_model()
admin.site.unregister(User)


class FloorInline(admin.TabularInline):
    model = Floor
    fields = ["level", "name"]
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "timezone", "check_in_grace_minutes"]
    search_fields = ["slug", "name"]
    inlines = [FloorInline]


class FloorForm(forms.ModelForm):
    """A floor, with its plan uploaded as an SVG file: stored only after labs.floor_plans.sanitise_svg rebuilt it."""

    plan_file = forms.FileField(
        label=_("Plan (SVG)"),
        required=False,
        help_text=_("An SVG drawing of the floor. Scripts, styles, links and embedded content are removed."),
        widget=forms.ClearableFileInput(attrs={"accept": ".svg,image/svg+xml"}),
    )
    remove_plan = forms.BooleanField(label=_("Remove the plan"), required=False)

    class Meta:
        model = Floor
        fields = ["site", "level", "name"]

    def clean_plan_file(self):
        upload = self.cleaned_data.get("plan_file")
        if not upload:
            return None
        if upload.size > floor_plans.MAX_BYTES:
            raise forms.ValidationError(_("A plan is at most 2 MB."))
        return floor_plans.sanitise_svg(upload.read())

    def save(self, commit=True):
        floor = super().save(commit=False)
        if self.cleaned_data.get("plan_file"):
            floor.plan_svg = self.cleaned_data["plan_file"]
        elif self.cleaned_data.get("remove_plan"):
            floor.plan_svg = ""
        if commit:
            floor.save()
        return floor


@admin.register(Floor)
class FloorAdmin(admin.ModelAdmin):
    form = FloorForm
    list_display = ["site", "level", "name", "has_plan"]
    list_filter = ["site"]
    list_select_related = ["site"]
    readonly_fields = ["plan_editor"]

    @admin.display(boolean=True, description=_("Plan"))
    def has_plan(self, floor):
        return bool(floor.plan_svg)

    @admin.display(description=_("Desks and rooms on the plan"))
    def plan_editor(self, floor):
        if not floor.pk or not floor.plan_svg:
            return _("Upload a plan first.")
        return format_html('<a href="{}">{}</a>', reverse("portal:floor-plan-edit", args=[floor.pk]), _("Place them"))


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "floor", "default_setpoint_c"]
    list_filter = ["floor__site"]
    list_select_related = ["floor__site"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "site", "is_active"]
    list_filter = ["kind", "site", "is_active"]
    search_fields = ["name"]


class PersonAddForm(ServiceModelForm):
    """Give an existing account its Person (labs.services.person_attach): how a superuser gets a staff Person."""

    actor_required = False

    class Meta:
        model = Person
        fields = ["user", "role", "company", "site", "phone", "job_title", "membership_ends_on"]

    def apply(self) -> Person:
        data = self.cleaned_data
        return services.person_attach(
            user=data["user"],
            role=data["role"],
            company=data.get("company"),
            site=data["site"],
            phone=data.get("phone") or "",
            job_title=data.get("job_title") or "",
            membership_ends_on=data.get("membership_ends_on"),
        )


class PersonChangeForm(ServiceModelForm):
    """Staff edit a person through labs.services.person_update: what changed goes through its own service."""

    is_active = forms.BooleanField(
        required=False,
        label=_("Account active"),
        help_text=_(
            "Off: the person can no longer sign in; their sessions and API tokens end, their badges are revoked "
            "and the visits they host are cancelled."
        ),
    )

    class Meta:
        model = Person
        fields = ["role", "company", "is_active", "membership_ends_on", "phone", "job_title"]
        help_texts = {
            "role": _(
                "A change of role or company revokes the person's badges and ends their sessions and API tokens."
            ),
            "membership_ends_on": _("The day the membership ends: from that day the person's badges stop working."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["is_active"] = self.instance.user.is_active

    def apply(self) -> Person:
        changes = {name: self.cleaned_data[name] for name in self.changed_data if name in services.UPDATE_FIELDS}
        return services.person_update(actor=self.actor, person=self.instance, changes=changes)


@admin.register(Person)
class PersonAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    """People: every change goes through the person services (labs/services.py), as from the API.

    Adding attaches a Person to an existing account; onboarding someone new with an emailed set-password link is
    ``POST /api/v1/people/``. People are not deleted here (that would skip every rule): deactivate them instead.
    """

    list_display = ["__str__", "role", "company", "site", "membership_ends_on", "is_active"]
    list_filter = ["role", "site", "company__kind", "user__is_active"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user", "company", "site"]
    autocomplete_fields = ["user", "company"]
    actions = ["deactivate", "reactivate", "erase", "marketing_list"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Staff reading a person's record is logged (labs.models.PersonalDataAccess)."""
        actor = person_of(request.user)
        pk = ascii_int(str(object_id))
        subject = Person.objects.filter(pk=pk).first() if pk is not None else None
        if actor is not None and subject is not None and request.method == "GET":
            services_privacy.personal_data_access_log(actor=actor, subject=subject, door="admin.person.change")
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Erase on the person's request (identifiers removed everywhere; cannot be undone)"))
    def erase(self, request, queryset):
        apply_each(self, request, queryset.select_related("user", "site"), _("Erased"), _erase)

    @admin.action(description=_("Download the marketing list (only people who consent to marketing now)"))
    def marketing_list(self, request, queryset):
        import csv

        from django.http import HttpResponse

        actor = person_of(request.user)
        if actor is None:
            self.message_user(request, NO_ACTOR, messages.ERROR)
            return None
        audience = services_privacy.consent_audience(actor=actor, purpose=ConsentPurpose.MARKETING)
        consenting = {p.pk for p in audience}
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="marketing-list.csv"'
        writer = csv.writer(response)
        writer.writerow(["email", "first_name", "last_name"])
        for person in queryset.select_related("user"):
            if person.pk in consenting:
                writer.writerow([person.user.email, person.user.first_name, person.user.last_name])
        return response

    @admin.display(boolean=True, description=gettext_lazy("active"), ordering="user__is_active")
    def is_active(self, obj: Person) -> bool:
        return obj.user.is_active

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = PersonChangeForm if obj is not None else PersonAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return PersonAddForm._meta.fields
        return ["user", "site", *PersonChangeForm._meta.fields, "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "site", "created_at"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Deactivate (sign-ins end, badges revoked, hosted visits cancelled)"))
    def deactivate(self, request, queryset):
        apply_each(self, request, queryset.select_related("user", "site"), _("Deactivated"), _deactivate)

    @admin.action(description=gettext_lazy("Reactivate the account (badges are issued anew)"))
    def reactivate(self, request, queryset):
        apply_each(self, request, queryset.select_related("user", "site"), _("Reactivated"), _reactivate)


def _deactivate(actor: Person, person: Person) -> None:
    services.person_deactivate(actor=actor, person=person)


def _reactivate(actor: Person, person: Person) -> None:
    services.person_reactivate(actor=actor, person=person)


def _erase(actor: Person, person: Person) -> None:
    services_privacy.person_erase(actor=actor, person=person)


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ErasureLog)
class ErasureLogAdmin(_ReadOnlyAdmin):
    """Erasures done: person id and pseudonym only. ``manage.py replay_erasures`` replays them after a restore."""

    list_display = ["pseudonym", "person_id", "erased_at", "by_staff"]


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(_ReadOnlyAdmin):
    """Staff reading another person's personal data (API detail and export, the admin's person page)."""

    list_display = ["at", "actor", "subject", "door"]
    list_filter = ["door"]
    list_select_related = ["actor__user", "subject__user"]


@admin.register(Consent)
class ConsentAdmin(_ReadOnlyAdmin):
    """Consents given and withdrawn (the history); people change them in the portal or the API."""

    list_display = ["at", "person", "purpose", "granted", "text_version", "channel"]
    list_filter = ["purpose", "granted", "channel"]
    list_select_related = ["person__user"]


# --- Accounts ----------------------------------------------------------------------------------------------------


class AccountChangeForm(UserChangeForm):
    """Django's user form, except that the "active" switch goes through labs.services.user_deactivate /
    user_reactivate (for a person's account: person_deactivate / person_reactivate) while the form validates, so a
    refusal is a form error. The other fields (names, email, admin permissions) have no consequences to fire."""

    actor: Person | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name"):  # one line, as everywhere else (names go into emails)
            if name in self.fields:
                self.fields[name].validators.append(validate_single_line)

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or "is_active" not in self.changed_data:
            return
        if self.actor is None:
            self.add_error("is_active", NO_ACTOR)
            return
        user = self.instance
        active = user.is_active
        user.is_active = self.initial["is_active"]  # the stored value: the service makes the change
        try:
            if active:
                services.user_reactivate(actor=self.actor, user=user)
            else:
                services.user_deactivate(actor=self.actor, user=user)
        except DomainError as exc:
            self.add_error("is_active", exc.detail)


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin, with deactivation through the services (see AccountChangeForm)."""

    form = AccountChangeForm
    actions = ["deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form
        return type(form.__name__, (form,), {"actor": person_of(request.user)})

    @admin.action(
        description=gettext_lazy("Deactivate (sign-ins end; a person's badges revoked, hosted visits cancelled)")
    )
    def deactivate(self, request, queryset):
        apply_each(self, request, queryset, _("Deactivated"), _deactivate_account)


def _deactivate_account(actor: Person, user) -> None:
    services.user_deactivate(actor=actor, user=user)


@admin.register(SignInCounter)
class SignInCounterAdmin(admin.ModelAdmin):
    """Read-only: counters are written by the sign-in throttle alone (labs.services.sign_in)."""

    list_display = ["scope", "window_start", "failures", "short_digest"]
    list_filter = ["scope"]
    date_hierarchy = "window_start"
    ordering = ["-window_start"]

    @admin.display(description=gettext_lazy("key digest"))
    def short_digest(self, obj: SignInCounter) -> str:
        return f"{obj.key_digest[:12]}…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "topic", "qos", "retain", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["retain", "qos"]
    search_fields = ["topic"]
    readonly_fields = ["topic", "payload", "qos", "retain", "created_at", "sent_at", "attempts", "last_error"]


@admin.register(MqttCredential)
class MqttCredentialAdmin(admin.ModelAdmin):
    """Issued MQTT identities and the messages the bridge refused from each; issue and rotate from the device's or
    reader's admin (or the API): the password is shown only there, once."""

    list_display = ["username", "kind", "site", "issued_at", "dropped_messages", "last_drop_reason", "last_dropped_at"]
    list_filter = ["kind", "site"]
    search_fields = ["username"]
    readonly_fields = [
        "username",
        "kind",
        "site",
        "issued_at",
        "dropped_messages",
        "last_drop_reason",
        "last_dropped_at",
    ]
    exclude = ["secret_hash"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
