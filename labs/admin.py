from django.contrib import admin

from labs.models import Company, Floor, MqttCredential, OutboxMessage, Person, SignInCounter, Site, Zone


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
