"""What every portal page needs: the navigation (portal/navigation.py) and the signed-in person."""

from labs.permissions import person_of
from portal.navigation import areas_for


def _is_current(url: str, path: str) -> bool:
    return path == url if url == "/" else path.startswith(url)


def navigation(request):
    """``nav_items``: the areas this person may see, each with its ``url`` and whether it is the ``current`` page."""
    person = person_of(getattr(request, "user", None))
    path = getattr(request, "path", "")
    items = [
        {"key": area.key, "label": area.label, "url_name": area.url_name, "url": area.url, "current": False}
        for area in areas_for(person)
    ]
    for item in items:
        item["current"] = _is_current(item["url"], path)
    return {"nav_items": items, "current_person": person, "calendar_needs_reconnect": _needs_reconnect(person)}


def _needs_reconnect(person) -> bool:
    """Whether the person's own calendar lost its grant (the portal's banner): a flag in the cache, no query."""
    if person is None:
        return False
    from calendars.personal import reconnect_flagged

    return reconnect_flagged(person.pk)
