from django.contrib import admin, messages
from django.utils.translation import gettext, gettext_lazy

from comfort.models import Command, Device, Preference, ZoneDecision


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["person", "desk_sit_height_mm", "desk_stand_height_mm", "temperature_c", "fan_speed_pct"]
    list_select_related = ["person__user"]
    search_fields = ["person__user__username"]
    raw_id_fields = ["person"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "kind", "site", "desk", "zone", "online", "last_seen_at", "desired_version"]
    list_filter = ["kind", "site", "online", "is_active"]
    list_select_related = ["site", "desk", "zone"]
    search_fields = ["device_id"]
    raw_id_fields = ["desk", "zone"]
    readonly_fields = ["desired_version", "desired", "reported_version", "reported", "reported_at", "telemetry"]
    actions = ["issue_mqtt_credentials"]

    @admin.action(description=gettext_lazy("Issue MQTT credentials (shown once; the old password stops at once)"))
    def issue_mqtt_credentials(self, request, queryset):
        from labs.mqtt_credentials import mqtt_credential_issue

        for device in queryset.select_related("site"):
            issued = mqtt_credential_issue(username=device.device_id, site=device.site.slug, kind=device.kind)
            words = {"username": issued.username, "password": issued.password}
            message = gettext("MQTT password of %(username)s (shown once): %(password)s") % words
            self.message_user(request, message, messages.WARNING)


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ["cmd_id", "device", "version", "state", "attempts", "issued_at", "applied_at"]
    list_filter = ["state", "device__kind"]
    list_select_related = ["device"]
    search_fields = ["cmd_id", "device__device_id"]
    raw_id_fields = ["device", "acts_for"]


@admin.register(ZoneDecision)
class ZoneDecisionAdmin(admin.ModelAdmin):
    list_display = ["zone", "basis", "setpoint_c", "fan_on", "fan_speed_pct", "decided_at"]
    list_filter = ["basis"]
    list_select_related = ["zone"]
