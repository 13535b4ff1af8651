"""The one permission layer every app uses.

Who may see what: staff see everything at their site; people of a company see their company's objects and their
own; everyone else sees only their own. Objects outside that scope are filtered out of querysets, so lists never
show them and detail views answer 404 (never 403, which would confirm that the object exists).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext, ngettext
from rest_framework.permissions import BasePermission

from labs.choices import HOST_ROLES, Role
from labs.errors import Forbidden
from labs.models import Person


def person_of(user) -> Person | None:
    """The Person behind a user, or None for anonymous users and accounts without one."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.person
    except Person.DoesNotExist:
        return None


def is_staff(person: Person | None) -> bool:
    return person is not None and person.role == Role.STAFF and person.user.is_active


def is_host(person: Person | None) -> bool:
    return person is not None and person.role in HOST_ROLES and person.user.is_active


ROLE_LIMITED_CATEGORIES = frozenset({"calendar", "office_preferences"})


def role_allows(person: Person | None, category: str) -> bool:
    """Role-limited collection (the policy's "visitors depending on visit length"): calendar data and office
    preferences are collected from every role but visitors; from a visitor only when their stay (account created to
    membership end) lasts at least ``settings.VISITOR_EXTENDED_DATA_MIN_DAYS`` days. Other categories: every role."""
    from django.conf import settings

    if person is None or category not in ROLE_LIMITED_CATEGORIES or person.role != Role.VISITOR:
        return person is not None
    if person.membership_ends_on is None or person.created_at is None:
        return False
    stay = (person.membership_ends_on - person.created_at.date()).days
    return stay >= settings.VISITOR_EXTENDED_DATA_MIN_DAYS


def require_role_allows(person: Person | None, category: str, what: str) -> None:
    """``what`` names the data in words (translated: it is said to the person, on their page or in the API)."""
    if not role_allows(person, category):
        days = _min_days()
        message = ngettext(
            "%(what)s is kept only for visitors staying at least %(days)d day.",
            "%(what)s is kept only for visitors staying at least %(days)d days.",
            days,
        )
        raise Forbidden(message % {"what": what, "days": days}, code="role_limited")


def _min_days() -> int:
    from django.conf import settings

    return settings.VISITOR_EXTENDED_DATA_MIN_DAYS


def require_staff(person: Person | None) -> None:
    if not is_staff(person):
        raise Forbidden(gettext("Only staff may do this."))


def scope_queryset(
    queryset: QuerySet,
    person: Person | None,
    *,
    owner_field: str | None = None,
    company_field: str | None = None,
    site_field: str | None = None,
) -> QuerySet:
    """Limit ``queryset`` to the rows ``person`` may see.

    ``owner_field`` is the path to the Person who owns a row (``"organiser"``), ``company_field`` the path to the
    Company it belongs to, ``site_field`` the path to its Site. A row is visible to staff of its site, to people of
    its company, and to its owner. With no path that applies, nothing is visible.
    """
    if person is None or not person.user.is_active:
        return queryset.none()
    if is_staff(person):
        if not site_field:
            return queryset
        condition = Q(**{site_field: person.site_id})
        if owner_field:  # their own rows elsewhere too: a visit they host at another site
            condition |= Q(**{owner_field: person})
        return queryset.filter(condition)
    condition = Q(pk__in=[])
    if owner_field:
        condition |= Q(**{owner_field: person})
    if company_field and person.company_id:
        condition |= Q(**{company_field: person.company_id})
    return queryset.filter(condition)


class HasPerson(BasePermission):
    """Signed in with an active account that has a Person (a bare superuser has none)."""

    message = "This account has no person record."

    def has_permission(self, request, view) -> bool:
        person = person_of(request.user)
        return person is not None and person.user.is_active


class IsStaff(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        return is_staff(person_of(request.user))


class IsHost(BasePermission):
    message = "Only members, employees, mentors and staff may host visitors."

    def has_permission(self, request, view) -> bool:
        return is_host(person_of(request.user))


class ScopedQuerysetMixin:
    """For DRF views: ``get_queryset`` returns ``base_queryset()`` limited by :func:`scope_queryset`.

    Set ``scope_owner_field``, ``scope_company_field`` and/or ``scope_site_field`` on the view.
    """

    scope_owner_field: str | None = None
    scope_company_field: str | None = None
    scope_site_field: str | None = None

    def base_queryset(self) -> QuerySet:
        return self.queryset.all()

    def get_queryset(self) -> QuerySet:
        return scope_queryset(
            self.base_queryset(),
            person_of(self.request.user),
            owner_field=self.scope_owner_field,
            company_field=self.scope_company_field,
            site_field=self.scope_site_field,
        )
