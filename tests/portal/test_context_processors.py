import pytest
from django.test import RequestFactory

from labs.choices import Role
from portal import context_processors, navigation
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def request_for(user, path="/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def labels_for(person, path="/"):
    return [i["label"] for i in context_processors.navigation(request_for(person.user, path))["nav_items"]]


def test_members_do_not_see_staff_only_areas(member, staff):
    assert "Reception" not in labels_for(member)
    assert "Reception" in labels_for(staff)


def test_people_who_cannot_host_do_not_see_visitors(site, member):
    visitor = PersonFactory(role=Role.VISITOR, company=None, site=site)

    assert "Visitors" in labels_for(member)
    assert "Visitors" not in labels_for(visitor)


def test_every_area_has_a_page():
    for area in navigation.AREAS:
        assert area.url.startswith("/"), area.key  # reverse() raises for an area without a page


def test_the_current_page_is_marked(member):
    items = context_processors.navigation(request_for(member.user, "/desks/"))["nav_items"]
    current = [i["key"] for i in items if i["current"]]
    assert current == ["desks"]


def test_the_nav_and_the_dashboard_cards_come_from_one_registry(member):
    from portal.selectors import dashboard_cards

    cards = {area.key for area in dashboard_cards(person=member)}
    nav = {i["key"] for i in context_processors.navigation(request_for(member.user))["nav_items"]}
    assert cards and cards <= nav
