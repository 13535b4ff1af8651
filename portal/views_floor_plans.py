"""Portal: a floor's plan drawing (served as an image), the staff editor that places desks and rooms on it, and the
installable web app's manifest."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_safe

from bookings.models import Desk, Room
from labs import floor_plans
from labs.models import Floor
from labs.permissions import is_staff, person_of

# The plan is shown through <image href>, where no script runs; served on its own it may not run any either.
PLAN_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@login_required
@require_GET
@cache_control(private=True, max_age=300)
def floor_plan_svg(request, pk: int):
    person = person_of(request.user)
    if person is None:
        raise Http404("No such floor.")
    floor = get_object_or_404(Floor, pk=pk, site=person.site)
    if not floor.plan_svg:
        raise Http404("This floor has no plan.")
    response = HttpResponse(floor.plan_svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = PLAN_CSP
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def floor_plan_edit(request, pk: int):
    """Staff drag the floor's desks and rooms onto its plan (or move the focused one with the arrow keys); the page's
    script saves through the API (PUT /api/v1/floors/<pk>/plan-positions/, bookings.services.floor_plan_positions_set).
    """
    person = person_of(request.user)
    if not is_staff(person):
        return redirect("portal:dashboard")
    floor = get_object_or_404(Floor.objects.select_related("site"), pk=pk, site=person.site)
    box = floor_plans.viewbox(floor.plan_svg)
    if box is None:
        raise Http404("This floor has no plan.")
    items = [
        {"kind": "room", "id": r.pk, "label": r.name, "x": r.plan_x, "y": r.plan_y}
        for r in Room.objects.filter(floor=floor, is_active=True).order_by("name")
    ] + [
        {"kind": "desk", "id": d.pk, "label": d.label, "x": d.plan_x, "y": d.plan_y}
        for d in Desk.objects.filter(floor=floor, is_active=True).order_by("label")
    ]
    return render(
        request,
        "portal/bookings/plan_edit.html",
        {
            "floor": floor,
            "box": box,
            "radius": round(min(box[2], box[3]) * 0.022, 2),
            "items": items,
            "api_url": reverse("bookings-api:floor-plan-positions", args=[floor.pk]),
        },
    )


@require_safe
@cache_control(public=True, max_age=3600)
def manifest(request):
    """The installable web app: opens on My badge (the one thing needed at the door), in its own window."""
    body = {
        "name": "Labs",
        "short_name": "Labs",
        "description": _("Your badge, bookings and workspace."),
        "id": "/",
        "start_url": reverse("portal:badge") + "?source=app",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#3140b5",
        "icons": [
            {"src": static("portal/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("portal/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
        "shortcuts": [
            {"name": _("My bookings"), "url": reverse("portal:my-bookings")},
            {"name": _("Find a desk"), "url": reverse("portal:desks")},
        ],
    }
    return HttpResponse(json.dumps(body), content_type="application/manifest+json")
