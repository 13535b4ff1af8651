"""Navigation shown on every portal page; each app's pages join as they are built.

An area adds itself by appending ``{"label": ..., "url_name": "portal:<name>", "staff_only": bool}`` to NAV_ITEMS.
"""

import logging

from django.urls import NoReverseMatch, reverse

from labs.permissions import is_staff, person_of

logger = logging.getLogger(__name__)

NAV_ITEMS = [
    {"label": "Dashboard", "url_name": "portal:dashboard", "staff_only": False},
    {"label": "Rooms", "url_name": "portal:rooms", "staff_only": False},
    {"label": "Desks", "url_name": "portal:desks", "staff_only": False},
    {"label": "My bookings", "url_name": "portal:my-bookings", "staff_only": False},
    {"label": "My workspace", "url_name": "portal:workspace", "staff_only": False},
    {"label": "My badge", "url_name": "portal:badge", "staff_only": False},
    {"label": "Visitors", "url_name": "portal:visitors", "staff_only": False},
    {"label": "Reception", "url_name": "portal:reception", "staff_only": True},
]


def _is_current(url: str, path: str) -> bool:
    return path == url if url == "/" else path.startswith(url)


def navigation(request):
    """``nav_items``: the entries this person may see, each with its ``url`` and whether it is the ``current`` page."""
    person = person_of(getattr(request, "user", None))
    path = getattr(request, "path", "")
    items = []
    for item in NAV_ITEMS:
        if item["staff_only"] and not is_staff(person):
            continue
        try:
            url = reverse(item["url_name"])
        except NoReverseMatch:  # an entry whose page is not wired yet must not break every page
            logger.warning("Portal navigation: no URL named %r", item["url_name"])
            continue
        items.append({**item, "url": url, "current": _is_current(url, path)})
    return {"nav_items": items, "current_person": person}
