"""Navigation shown on every portal page; each app's pages join as they are built."""

from labs.permissions import is_staff, person_of

NAV_ITEMS = [
    {"label": "Dashboard", "url_name": "portal:dashboard", "staff_only": False},
]


def navigation(request):
    person = person_of(getattr(request, "user", None))
    items = [item for item in NAV_ITEMS if not item["staff_only"] or is_staff(person)]
    return {"nav_items": items, "current_person": person}
