"""Admin for rooms, desks, policies, series and bookings. Bookings are made, changed and cancelled through the
booking services (rules checked unless an override reason is given; conflicts refused, as form errors), never saved
raw."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy, ngettext

from bookings import services
from bookings.choices import BookingSource
from bookings.models import Booking, BookingPolicy, BookingSeries, CalendarFeed, Closure, DemandSignal, Desk, Room
from labs.admin_forms import NO_ACTOR, ServiceFormAdminMixin, ServiceModelForm, current_zone_name, in_current_zone
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


class _BookingTimesMixin:
    """Start and end are shown and taken in the zone of the signed-in staff's site, and say which."""

    def _name_zone(self) -> None:
        words = gettext("The site's local time: %(zone)s.") % {"zone": current_zone_name()}
        for name in ("start", "end"):
            if name in self.fields:
                self.fields[name].help_text = words


class StaffBookingForm(_BookingTimesMixin, ServiceModelForm):
    """Book on someone's behalf through booking_create: rules (unless an override reason) and conflicts as in the
    API, refusals shown on the form."""

    class Meta:
        model = Booking
        fields = ["organiser", "room", "desk", "start", "end", "title", "attendees", "override_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._name_zone()

    def clean(self):
        data = super().clean()
        if bool(data.get("room")) == bool(data.get("desk")):
            raise ValidationError("Choose a room or a desk.")
        return data

    def apply(self) -> Booking:
        data = self.cleaned_data
        return services.booking_create(
            actor=self.actor,
            organiser=data["organiser"],
            room=data.get("room"),
            desk=data.get("desk"),
            start=data["start"],
            end=data["end"],
            title=data.get("title") or "",
            attendees=data.get("attendees") or [],
            source=BookingSource.STAFF,
            override_reason=data.get("override_reason") or "",
        )


class BookingChangeForm(_BookingTimesMixin, ServiceModelForm):
    """Re-time or edit through booking_update: the same rules and conflict checks as the API's PATCH."""

    class Meta:
        model = Booking
        fields = ["start", "end", "title", "attendees", "override_reason"]
        help_texts = {
            "override_reason": gettext_lazy("Give (or change) a reason to change the booking past its rules.")
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._name_zone()

    def apply(self) -> Booking:
        changed = {name: self.cleaned_data[name] for name in ("start", "end", "title", "attendees")}
        changed = {name: value for name, value in changed.items() if name in self.changed_data}
        # A reason already on the booking does not wave the rules through again; a newly given one does.
        override = (self.cleaned_data.get("override_reason") or "") if "override_reason" in self.changed_data else ""
        return services.booking_update(
            actor=self.actor,
            booking=self.instance,
            start=changed.get("start"),
            end=changed.get("end"),
            title=changed.get("title"),
            attendees=changed.get("attendees"),
            override_reason=override,
        )


@admin.register(Booking)
class BookingAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    """Bookings change only through the booking services: adding is booking_create, editing booking_update,
    cancelling booking_cancel (an action). Nothing is deleted: a cancelled booking stays for calendars and history.
    Times are shown and taken in the signed-in staff's site zone, named in the column headers and the form."""

    list_display = ["id", "start_local", "end_local", "room", "desk", "organiser", "status", "source", "checked_in_at"]
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

    @admin.display(description=in_current_zone(gettext_lazy("start")), ordering="start")
    def start_local(self, obj: Booking):
        return obj.start

    @admin.display(description=in_current_zone(gettext_lazy("end")), ordering="end")
    def end_local(self, obj: Booking):
        return obj.end

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BookingChangeForm if obj is not None else StaffBookingForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organiser", "room", "desk", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Cancel the selected bookings"))
    def cancel_bookings(self, request, queryset):
        actor = person_of(request.user)
        if actor is None:
            self.message_user(request, NO_ACTOR, level=messages.ERROR)
            return
        done = 0
        for booking in queryset.select_related("site", "series"):
            try:
                done += services.booking_cancel(actor=actor, booking=booking)
            except DomainError as exc:
                words = {"obj": booking, "reason": exc.detail, "code": exc.code}
                self.message_user(request, gettext("%(obj)s: %(reason)s [%(code)s]") % words, level=messages.WARNING)
        message = ngettext("Cancelled %(count)d booking.", "Cancelled %(count)d bookings.", done) % {"count": done}
        self.message_user(request, message)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["person", "created_at", "last_used_at"]
    readonly_fields = ["person", "token_digest", "created_at", "last_used_at"]
    raw_id_fields = ["person"]
