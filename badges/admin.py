"""Admin pages for badges, visits, doors and readers; the audit log is read-only (no add, change or delete).

Every state change goes through badges.services: issuing a badge, revoking, suspending, reinstating, a reader's key,
checking visitors in and out.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy

from badges import services
from badges.choices import BadgeKind, Weekday
from badges.models import AccessDecision, Badge, BadgeCodeUse, Door, DoorRule, Kiosk, Reader, Visit
from labs.admin_forms import apply_each
from labs.choices import Role
from labs.errors import DomainError
from labs.models import Person
from labs.permissions import person_of

# --- doors and readers -----------------------------------------------------------------------------------------


class DoorRuleForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        label=capfirst(gettext_lazy("roles")),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every role."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[d.value for d in Weekday],
        label=capfirst(gettext_lazy("weekdays")),
    )

    class Meta:
        model = DoorRule
        fields = ["roles", "companies", "weekdays", "opens_at", "closes_at", "is_active"]


class DoorRuleInline(admin.StackedInline):
    model = DoorRule
    form = DoorRuleForm
    extra = 0
    filter_horizontal = ["companies"]


@admin.register(Door)
class DoorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "site", "allows_visitors", "is_active"]
    list_filter = ["site", "allows_visitors", "is_active"]
    list_select_related = ["site"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [DoorRuleInline]


@admin.register(Reader)
class ReaderAdmin(admin.ModelAdmin):
    """A new reader gets an API key, shown once; "Rotate API key" replaces it (the old one stops at once)."""

    list_display = ["slug", "name", "site", "door", "is_active", "key_rotated_at"]
    list_filter = ["site", "is_active"]
    list_select_related = ["site", "door__site"]
    search_fields = ["slug", "name"]
    readonly_fields = ["key_rotated_at", "created_at"]
    actions = ["rotate_key", "issue_mqtt_credentials"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            key = services.reader_rotate_key(reader=obj)
            words = {"reader": obj.slug, "key": key}
            self.message_user(request, gettext("API key of %(reader)s (shown once): %(key)s") % words, messages.WARNING)

    @admin.action(description=gettext_lazy("Rotate API key (shown once)"))
    def rotate_key(self, request, queryset):
        for reader in queryset:
            key = services.reader_rotate_key(reader=reader)
            words = {"reader": reader.slug, "key": key}
            message = gettext("New API key of %(reader)s (shown once): %(key)s") % words
            self.message_user(request, message, messages.WARNING)

    @admin.action(description=gettext_lazy("Issue MQTT credentials (shown once; the old password stops at once)"))
    def issue_mqtt_credentials(self, request, queryset):
        from labs.mqtt_credentials import mqtt_credential_issue

        for reader in queryset.select_related("site"):
            issued = mqtt_credential_issue(username=reader.slug, site=reader.site.slug, kind="reader")
            words = {"username": issued.username, "password": issued.password}
            message = gettext("MQTT password of reader %(username)s (shown once): %(password)s") % words
            self.message_user(request, message, messages.WARNING)


# --- badges ----------------------------------------------------------------------------------------------------


class BadgeIssueForm(forms.ModelForm):
    """Issue a badge through badges.services.badge_issue; a card's UID is stored only as a keyed digest."""

    card_uid = forms.CharField(
        max_length=64,
        required=False,
        label=capfirst(gettext_lazy("card UID")),
        help_text=gettext_lazy("For a card: its UID in hex, e.g. 04:A1:B2:C3"),
    )

    class Meta:
        model = Badge
        fields = ["person", "kind", "valid_until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].required = True

    def clean(self):
        data = super().clean()
        if data.get("kind") == BadgeKind.CARD and not data.get("card_uid"):
            self.add_error("card_uid", "A card needs its UID.")
        return data

    def _post_clean(self):  # the service validates and builds the badge; skip the model's own validation here
        pass


@admin.register(Badge)
class BadgeAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "status", "holder", "valid_from", "valid_until", "card_uid_hint"]
    list_filter = ["kind", "status"]
    list_select_related = ["person__user", "visit"]
    search_fields = ["public_id", "person__user__username", "person__user__last_name", "visit__name"]
    date_hierarchy = "issued_at"
    actions = ["revoke", "suspend", "reinstate"]
    readonly_fields = [
        "person",
        "visit",
        "kind",
        "status",
        "public_id",
        "card_uid_hint",
        "valid_from",
        "valid_until",
        "issued_at",
        "issued_by",
        "suspended_at",
        "revoked_at",
        "status_reason",
    ]

    @admin.display(description=gettext_lazy("holder"))
    def holder(self, obj: Badge) -> str:
        return str(obj.person) if obj.person_id else f"visitor: {obj.visit.name}"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = BadgeIssueForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["person", "kind", "card_uid", "valid_until"]
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "person":
            kwargs["queryset"] = Person.objects.select_related("user").filter(user__is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        badge = services.badge_issue(
            actor=person_of(request.user),
            person=form.cleaned_data["person"],
            kind=form.cleaned_data["kind"],
            card_uid=form.cleaned_data.get("card_uid") or None,
            valid_until=form.cleaned_data.get("valid_until"),
        )
        obj.pk = badge.pk
        obj._state.adding = False

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            from django.shortcuts import redirect

            return redirect(request.path)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the audit log refers to badges

    @admin.action(description=gettext_lazy("Revoke (the next scan is refused)"))
    def revoke(self, request, queryset):
        apply_each(
            self, request, queryset, gettext("Revoked"), lambda actor, b: services.badge_revoke(actor=actor, badge=b)
        )

    @admin.action(description=gettext_lazy("Suspend"))
    def suspend(self, request, queryset):
        apply_each(
            self, request, queryset, gettext("Suspended"), lambda actor, b: services.badge_suspend(actor=actor, badge=b)
        )

    @admin.action(description=gettext_lazy("Reinstate a suspended badge"))
    def reinstate(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            gettext("Reinstated"),
            lambda actor, b: services.badge_reinstate(actor=actor, badge=b),
        )


class VisitBadgeInline(admin.TabularInline):
    model = Badge
    fields = ["public_id", "kind", "status", "valid_from", "valid_until"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """Visits are registered by hosts (portal or API); here reception checks them in and out."""

    list_display = ["name", "host", "site", "start", "end", "state_display", "checked_in_at", "checked_out_at"]
    list_filter = ["site", ("checked_in_at", admin.EmptyFieldListFilter), ("cancelled_at", admin.EmptyFieldListFilter)]
    list_select_related = ["host__user", "site"]
    search_fields = ["name", "email", "host__user__username", "host__user__last_name"]
    date_hierarchy = "start"
    inlines = [VisitBadgeInline]
    actions = ["check_in", "check_out", "cancel"]
    readonly_fields = [
        "host",
        "site",
        "name",
        "email",
        "purpose",
        "start",
        "end",
        "created_at",
        "checked_in_at",
        "checked_in_by",
        "checked_out_at",
        "cancelled_at",
        "ended_at",
        "host_notified_at",
        "walk_in",
        "house_rules_accepted_at",
    ]

    @admin.display(description=gettext_lazy("state"))
    def state_display(self, obj: Visit) -> str:
        return obj.state_label

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=gettext_lazy("Check in (reception)"))
    def check_in(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            gettext("Checked in"),
            lambda actor, v: services.visit_check_in(actor=actor, visit=v),
        )

    @admin.action(description=gettext_lazy("Check out (the badge ends now)"))
    def check_out(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            gettext("Checked out"),
            lambda actor, v: services.visit_check_out(actor=actor, visit=v),
        )

    @admin.action(description=gettext_lazy("Cancel (the badge is revoked)"))
    def cancel(self, request, queryset):
        apply_each(
            self, request, queryset, gettext("Cancelled"), lambda actor, v: services.visit_cancel(actor=actor, visit=v)
        )


@admin.register(Kiosk)
class KioskAdmin(admin.ModelAdmin):
    """Reception tablets; staff set them up from the portal's reception page and switch them off here or there."""

    list_display = ["name", "site", "created_by", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["site", ("revoked_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["site", "created_by", "created_at", "last_seen_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # a kiosk is set up on the device itself (the portal's reception page gives it its cookie)

    @admin.action(description=gettext_lazy("Switch off (the tablet stops at once)"))
    def revoke(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            gettext("Switched off"),
            lambda actor, k: services.kiosk_revoke(actor=actor, kiosk=k),
        )


# --- read-only records -----------------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessDecision)
class AccessDecisionAdmin(ReadOnlyAdmin):
    """The audit log: append-only in the database too (triggers refuse UPDATE and early DELETE)."""

    list_display = ["at", "reader_ref", "door", "credential_type", "allow", "reason", "channel", "badge", "person"]
    list_filter = ["allow", "reason", "channel", "credential_type", "door"]
    list_select_related = ["door__site", "badge", "person__user"]
    search_fields = ["reader_ref", "scan_id", "badge__public_id"]
    date_hierarchy = "at"
    actions = None

    def get_actions(self, request):
        return {}


@admin.register(BadgeCodeUse)
class BadgeCodeUseAdmin(ReadOnlyAdmin):
    """Codes accepted per reader and step (kept 10 minutes to refuse replays)."""

    list_display = ["badge", "reader", "step", "used_at"]
    list_select_related = ["badge", "reader"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(used_at__gte=timezone.now() - services.CODE_USE_RETENTION * 6)
