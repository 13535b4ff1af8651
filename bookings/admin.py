"""Admin for rooms, desks, policies, series and bookings. Staff booking on someone's behalf goes through the service
(rules checked unless an override reason is given; conflicts refused), never a raw save."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from bookings import services
from bookings.choices import BookingSource
from bookings.models import Booking, BookingPolicy, BookingSeries, CalendarFeed, Closure, DemandSignal, Desk, Room
from labs.errors import DomainError
from labs.permissions import person_of


@admin.register(BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
    list_display = ["site", "opens_at", "closes_at", "min_duration_minutes", "max_duration_minutes", "max_days_ahead"]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["site", "day", "reason"]
    list_filter = ["site"]
    date_hierarchy = "day"


@admin.register(DemandSignal)
class DemandSignalAdmin(admin.ModelAdmin):
    """Counts of unmet demand, recorded by the services; read only."""

    list_display = ["site", "day", "hour", "size_band", "kind", "count"]
    list_filter = ["site", "kind", "size_band"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "floor", "capacity", "buffer_minutes", "is_active"]
    list_filter = ["site", "floor", "is_active"]
    search_fields = ["name"]
    list_select_related = ["site", "floor"]


@admin.register(Desk)
class DeskAdmin(admin.ModelAdmin):
    list_display = ["label", "site", "floor", "zone", "is_active"]
    list_filter = ["site", "floor", "zone", "is_active"]
    search_fields = ["label"]
    list_select_related = ["site", "floor", "zone"]


@admin.register(BookingSeries)
class BookingSeriesAdmin(admin.ModelAdmin):
    list_display = ["id", "organiser", "room", "desk", "rrule", "first_start", "status"]
    list_filter = ["status", "site"]
    search_fields = ["organiser__user__username", "organiser__user__email", "title"]
    list_select_related = ["organiser__user", "room", "desk"]
    raw_id_fields = ["organiser", "created_by", "room", "desk"]


class StaffBookingForm(forms.ModelForm):
    """Book on someone's behalf: the service decides, so rules and conflicts are the API's."""

    class Meta:
        model = Booking
        fields = ["organiser", "room", "desk", "start", "end", "title", "attendees", "override_reason"]

    def clean(self):
        data = super().clean()
        if bool(data.get("room")) == bool(data.get("desk")):
            raise ValidationError("Choose a room or a desk.")
        return data


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["id", "start", "end", "room", "desk", "organiser", "status", "source", "checked_in_at"]
    list_filter = ["status", "source", "site", "room", "desk__zone", ("start", admin.DateFieldListFilter)]
    search_fields = ["title", "organiser__user__username", "organiser__user__email", "room__name", "desk__label"]
    list_select_related = ["room", "desk", "organiser__user"]
    raw_id_fields = ["organiser", "created_by", "room", "desk", "series"]
    date_hierarchy = "start"
    readonly_fields = [
        "uid",
        "site",
        "company",
        "created_by",
        "hold_end",
        "status",
        "source",
        "series",
        "recurrence_id",
        "is_moved",
        "checked_in_at",
        "released_at",
        "cancelled_at",
        "sequence",
        "created_at",
        "updated_at",
    ]
    actions = ["cancel_bookings"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffBookingForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "organiser", "room", "desk", "start", "end"]

    def save_model(self, request, obj, form, change):
        actor = person_of(request.user)
        if change:
            obj.save(update_fields=["title", "attendees", "override_reason", "updated_at"])
            return
        if actor is None:
            raise ValidationError("Staff book on behalf through an account with a person record.")
        data = form.cleaned_data
        try:
            booking = services.booking_create(
                actor=actor,
                organiser=data["organiser"],
                room=data.get("room"),
                desk=data.get("desk"),
                start=data["start"],
                end=data["end"],
                title=data.get("title", ""),
                attendees=data.get("attendees") or [],
                source=BookingSource.STAFF,
                override_reason=data.get("override_reason", ""),
            )
        except DomainError as exc:
            self.message_user(request, f"Not booked: {exc.detail}", level=messages.ERROR)
            raise _AdminRefused from None
        obj.pk = booking.pk
        obj.refresh_from_db()

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except _AdminRefused:
            from django.shortcuts import redirect

            return redirect(request.get_full_path())

    @admin.action(description="Cancel the selected bookings")
    def cancel_bookings(self, request, queryset):
        actor = person_of(request.user)
        done = 0
        for booking in queryset.select_related("site", "series"):
            try:
                done += services.booking_cancel(actor=actor, booking=booking)
            except DomainError as exc:
                self.message_user(request, f"{booking}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"Cancelled {done} booking(s).")


class _AdminRefused(Exception):
    pass


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["person", "created_at", "last_used_at"]
    readonly_fields = ["person", "token_digest", "created_at", "last_used_at"]
    raw_id_fields = ["person"]
