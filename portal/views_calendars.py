"""Portal pages for calendar sync health (staff): each connection, each linked room's last sync, what it cost, when
its push channel expires, its last error, and a "sync now" button. Reads through calendars.selectors; the buttons
call calendars.services, the same as the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from calendars import selectors, services
from calendars.models import RoomCalendar
from labs.errors import DomainError
from labs.permissions import is_staff, person_of
from portal.responses import forbidden


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def calendars(request):
    person = person_of(request.user)
    if not is_staff(person):
        return forbidden(request, _("Only staff see calendar sync."))
    connections = [
        {"connection": c, "health": selectors.connection_health(c)} for c in selectors.connections_for(person)
    ]
    return render(request, "portal/calendars/health.html", {"site": person.site, "connections": connections})


@login_required
@require_POST
def connection_sync(request, pk: int):
    person = person_of(request.user)
    if not is_staff(person):
        return forbidden(request, _("Only staff sync calendars."))
    connection = selectors.connections_for(person).filter(pk=pk).first()
    if connection is None:
        raise Http404("No such connection.")
    try:
        queued = services.connection_sync_request(actor=person, connection=connection)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            ngettext(
                "A sync of %(count)d room of %(name)s is on its way.",
                "A sync of %(count)d rooms of %(name)s is on its way.",
                queued,
            )
            % {"count": queued, "name": connection.name},
        )
    return redirect("portal:calendars")


@login_required
@require_POST
def room_sync(request, pk: int):
    person = person_of(request.user)
    if not is_staff(person):
        return forbidden(request, _("Only staff sync calendars."))
    calendar = RoomCalendar.objects.select_related("room").filter(pk=pk, room__site_id=person.site_id).first()
    if calendar is None:
        raise Http404("No such calendar.")
    services.calendar_sync_request(calendar.pk, force=True)
    messages.success(request, _("A sync of %(room)s is on its way.") % {"room": calendar.room.name})
    return redirect("portal:calendars")
