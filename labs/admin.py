from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from labs.models import Company, Floor, OutboxMessage, Person, SignInCounter, Site, Zone
from labs.validators import validate_single_line

User = get_user_model()


class LabsUserAdmin(UserAdmin):
    """Django's user admin, with a person's names held to one line as everywhere else (they go into emails)."""

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        for name in ("first_name", "last_name"):
            if name in form.base_fields:
                form.base_fields[name].validators.append(validate_single_line)
        return form


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, LabsUserAdmin)


class FloorInline(admin.TabularInline):
    model = Floor
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "timezone", "check_in_grace_minutes"]
    search_fields = ["slug", "name"]
    inlines = [FloorInline]


@admin.register(Floor)
class FloorAdmin(admin.ModelAdmin):
    list_display = ["site", "level", "name"]
    list_filter = ["site"]
    list_select_related = ["site"]


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


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["__str__", "role", "company", "site", "membership_ends_on"]
    list_filter = ["role", "site", "company__kind"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user", "company", "site"]
    autocomplete_fields = ["user", "company"]


@admin.register(SignInCounter)
class SignInCounterAdmin(admin.ModelAdmin):
    """Read-only: counters are written by the sign-in throttle alone (labs.services.sign_in)."""

    list_display = ["scope", "window_start", "failures", "short_digest"]
    list_filter = ["scope"]
    date_hierarchy = "window_start"
    ordering = ["-window_start"]

    @admin.display(description="key digest")
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
