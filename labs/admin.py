from django.contrib import admin

from labs.models import Company, Floor, Person, Site, Zone


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
