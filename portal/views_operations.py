"""The operator's view: a staff home for their site's day, and finding a person (their bookings and badge).

Staff of the site only (``labs.permissions.is_staff`` and the same site); reads through portal/selectors_operations.py.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from labs.models import Person
from labs.permissions import is_staff, person_of
from portal import selectors_operations as selectors
from portal.responses import forbidden


def _staff(request):
    person = person_of(request.user)
    return person if is_staff(person) else None


@login_required
@require_http_methods(["GET", "HEAD"])
def operations(request):
    staff = _staff(request)
    if staff is None:
        return forbidden(request, _("Only staff see the operator's view."))
    query = request.GET.get("q", "").strip()[:100]
    people = list(selectors.people_search(site=staff.site, query=query)[: selectors.PEOPLE_SHOWN]) if query else []
    context = {
        "site": staff.site,
        "ops": selectors.operations_for(site=staff.site),
        "query": query,
        "people": people,
        "local_now": timezone.now().astimezone(staff.site.tz),
    }
    return render(request, "portal/operations/home.html", context)


@login_required
@require_http_methods(["GET", "HEAD"])
def person(request, pk: int):
    staff = _staff(request)
    if staff is None:
        return forbidden(request, _("Only staff see the operator's view."))
    target = get_object_or_404(Person.objects.select_related("user", "company", "site"), pk=pk, site=staff.site)
    context = {"site": staff.site, "overview": selectors.person_overview(person=target), "person": target}
    return render(request, "portal/operations/person.html", context)
