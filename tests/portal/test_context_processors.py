import pytest
from django.test import RequestFactory

from portal import context_processors

pytestmark = pytest.mark.django_db


def request_for(user, path="/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def test_members_do_not_see_staff_only_entries(member, staff, monkeypatch):
    items = [
        {"label": "Dashboard", "url_name": "portal:dashboard", "staff_only": False},
        {"label": "Operations", "url_name": "portal:dashboard", "staff_only": True},
    ]
    monkeypatch.setattr(context_processors, "NAV_ITEMS", items)
    assert [i["label"] for i in context_processors.navigation(request_for(member.user))["nav_items"]] == ["Dashboard"]
    labels = [i["label"] for i in context_processors.navigation(request_for(staff.user))["nav_items"]]
    assert labels == ["Dashboard", "Operations"]


def test_an_entry_whose_page_does_not_exist_yet_is_left_out(member, monkeypatch):
    items = [*context_processors.NAV_ITEMS, {"label": "Soon", "url_name": "portal:not-built", "staff_only": False}]
    monkeypatch.setattr(context_processors, "NAV_ITEMS", items)
    labels = [i["label"] for i in context_processors.navigation(request_for(member.user))["nav_items"]]
    assert "Soon" not in labels
    assert "Dashboard" in labels


def test_the_current_page_is_marked(member):
    items = context_processors.navigation(request_for(member.user, "/"))["nav_items"]
    dashboard = next(i for i in items if i["url_name"] == "portal:dashboard")
    assert dashboard["current"] is True
    assert dashboard["url"] == "/"


def test_it_does_not_modify_the_shared_entries(member):
    context_processors.navigation(request_for(member.user))
    assert all("url" not in item for item in context_processors.NAV_ITEMS)
