"""Admin pages for calendar sync: connections (credentials never shown; connecting is the API's, which verifies them
at the provider), each linked room's sync health with a "sync now" action, and the event mapping (read-only).

Every change goes through calendars.services: sync requests, unlinking, disconnecting (which stops the channels)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext, gettext_lazy, ngettext

from calendars import services
from calendars.models import Connection, EventLink, OutboundChange, RoomCalendar
from labs.errors import DomainError
from labs.permissions import person_of


class RoomCalendarInline(admin.TabularInline):
    model = RoomCalendar
    extra = 0
    can_delete = False
    fields = ["room", "calendar_id", "status", "last_sync_at", "last_sync_requests", "watch_expires_at", "last_error"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "site", "status", "last_error_at"]
    list_filter = ["provider", "status", "site"]
    readonly_fields = ["name", "site", "provider", "status", "last_error", "last_error_at", "created_by", "created_at"]
    fields = readonly_fields
    inlines = [RoomCalendarInline]
    actions = ["sync_now"]

    def has_add_permission(self, request) -> bool:
        return False  # POST /api/v1/calendars/connections/ checks the credentials at the provider first

    @admin.action(description=gettext_lazy("Sync every linked room now"))
    def sync_now(self, request, queryset):
        actor = person_of(request.user)
        for connection in queryset:
            try:
                count = services.connection_sync_request(actor=actor, connection=connection)
                words = {"connection": connection, "count": count}
                message = ngettext(
                    "%(connection)s: %(count)d room queued for a sync.",
                    "%(connection)s: %(count)d rooms queued for a sync.",
                    count,
                )
                self.message_user(request, message % words, messages.SUCCESS)
            except DomainError as exc:
                words = {"obj": connection, "reason": exc.detail, "code": exc.code}
                self.message_user(request, gettext("%(obj)s: %(reason)s [%(code)s]") % words, messages.ERROR)

    def delete_model(self, request, obj) -> None:
        services.connection_delete(actor=person_of(request.user), connection=obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(RoomCalendar)
class RoomCalendarAdmin(admin.ModelAdmin):
    list_display = [
        "room",
        "calendar_id",
        "connection",
        "status",
        "last_sync_at",
        "last_sync_requests",
        "watch_expires_at",
        "last_error",
    ]
    list_filter = ["status", "connection"]
    list_select_related = ["room", "connection"]
    exclude = ["sync_token", "watch_token", "sync_claim"]
    actions = ["sync_now", "full_sync_now"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in RoomCalendar._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request) -> bool:
        return False  # PUT /api/v1/rooms/{id}/calendar/ links a room

    @admin.action(description=gettext_lazy("Sync now"))
    def sync_now(self, request, queryset):
        for calendar in queryset:
            services.calendar_sync_request(calendar.pk, force=True)
        count = queryset.count()
        message = ngettext("%(count)d calendar queued for a sync.", "%(count)d calendars queued for a sync.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Full sync of the window now"))
    def full_sync_now(self, request, queryset):
        for calendar in queryset:
            services.calendar_sync_request(calendar.pk, full=True, force=True)
        count = queryset.count()
        message = ngettext(
            "%(count)d calendar queued for a full sync.", "%(count)d calendars queued for a full sync.", count
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    def delete_model(self, request, obj) -> None:
        services.room_calendar_unlink(actor=person_of(request.user), room=obj.room)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(EventLink)
class EventLinkAdmin(admin.ModelAdmin):
    list_display = ["event_id", "calendar", "origin", "state", "booking", "start", "end", "reason"]
    list_filter = ["origin", "state"]
    list_select_related = ["calendar__room", "booking"]
    search_fields = ["event_id", "ical_uid"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboundChange)
class OutboundChangeAdmin(admin.ModelAdmin):
    list_display = ["booking", "calendar", "queued_at", "attempts"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
