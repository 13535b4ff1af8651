"""Consents per purpose: GET/PUT /api/v1/me/consents/, the portal's one-click withdrawal, and the processing that
checks them (the marketing list, the community directory)."""

from __future__ import annotations

import re
from html import unescape

import pytest
import time_machine
from django.urls import reverse

from labs import services_privacy
from labs.models import Consent
from tests.conftest import _client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/me/consents/"


def _put(person, **choices):
    body = {"consents": [{"purpose": p, "granted": g} for p, g in choices.items()]}
    return _client_for(person).put(URL, body, format="json")


def test_nothing_is_consented_until_given(member):
    body = _client_for(member).get(URL).json()
    assert {c["purpose"]: c["granted"] for c in body["consents"]} == {
        "marketing": False,
        "community": False,
        "personalisation": False,
    }
    assert body["history"] == []


def test_grant_and_withdraw_keep_a_history_with_version_time_and_channel(member):
    with time_machine.travel("2026-05-01T10:00:00+00:00", tick=False):
        assert _put(member, marketing=True).status_code == 200
    with time_machine.travel("2026-05-02T10:00:00+00:00", tick=False):
        body = _put(member, marketing=False).json()
    current = {c["purpose"]: c for c in body["consents"]}
    assert current["marketing"]["granted"] is False
    assert current["marketing"]["channel"] == "api"
    assert current["marketing"]["at"].startswith("2026-05-02T")
    assert [(h["granted"], h["at"][:10]) for h in body["history"]] == [(False, "2026-05-02"), (True, "2026-05-01")]
    assert all(h["text_version"] == services_privacy.CONSENT_TEXT_VERSION for h in body["history"])


def test_an_unknown_purpose_or_field_is_a_400(member):
    assert _put(member, tracking=True).status_code == 400
    response = _client_for(member).put(
        URL, {"consents": [{"purpose": "marketing", "granted": True, "x": 1}]}, format="json"
    )
    assert response.status_code == 400


def test_the_portal_withdraws_with_one_click(client, member):
    services_privacy.consents_set(person=member, choices={"community": True}, channel="api")
    client.force_login(member.user)
    page = client.get(reverse("portal:my-data"))
    assert page.status_code == 200 and b'data-consent="community"' in page.content
    response = client.post(reverse("portal:consent-set"), {"purpose": "community", "granted": "0"})
    assert response.status_code == 302
    assert not services_privacy.consent_given(person=member, purpose="community")
    assert Consent.objects.filter(person=member).latest("at").channel == "portal"


def test_a_danish_reader_is_asked_for_consent_in_danish(client, member):
    """Consent is informed: the purposes, the confirmation and the history read in the person's language."""
    services_privacy.consents_set(person=member, choices={"marketing": True}, channel="admin")
    client.force_login(member.user)
    client.cookies["django_language"] = "da"
    page = unescape(client.get(reverse("portal:my-data")).content.decode())
    assert "Fællesskab: vis mit navn og min jobtitel" in page
    assert "Tilpasning: foreslå det skrivebord" in page
    assert "Markedsføring: nyheder, tilbud og begivenheder på e-mail, givet (Administration (på personens" in page
    assert "Community: show my name" not in page and "Marketing: news" not in page
    followed = client.post(reverse("portal:consent-set"), {"purpose": "community", "granted": "1"}, follow=True)
    assert "Fællesskab: vis mit navn" in unescape(followed.content.decode())
    client.cookies["django_language"] = "en-gb"
    english = client.get(reverse("portal:my-data"))
    assert "Community: show my name and job title" in unescape(english.content.decode())


def test_the_marketing_list_holds_only_people_who_consent_now(admin_client, staff, member, colleague, outsider):
    from django.contrib.auth import get_user_model

    services_privacy.consents_set(person=member, choices={"marketing": True}, channel="portal")
    services_privacy.consents_set(person=colleague, choices={"marketing": True}, channel="portal")
    services_privacy.consents_set(person=colleague, choices={"marketing": False}, channel="portal")
    audience = services_privacy.consent_audience(actor=staff, purpose="marketing")
    assert audience == [member]
    # the admin's action downloads the same list
    admin_user = get_user_model().objects.get(username="admin")
    from labs.choices import Role
    from labs.models import Person

    Person.objects.create(user=admin_user, role=Role.STAFF, site=staff.site)
    response = admin_client.post(
        reverse("admin:labs_person_changelist"),
        {"action": "marketing_list", "_selected_action": [member.pk, colleague.pk, outsider.pk]},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert member.user.email in text and colleague.user.email not in text and outsider.user.email not in text


def _directory_names(client):
    """The names listed in the community directory, as the page shows them (not the header's signed-in name)."""
    html = client.get(reverse("portal:community")).content.decode()
    listing = html.split('<ul class="community">', 1)[1].split("</ul>", 1)[0]
    return [unescape(n) for n in re.findall(r"<strong>([^<]*)</strong>", listing)], html


def test_the_community_directory_lists_only_who_consents_with_the_mentor_notice(client, member, colleague, mentor):
    services_privacy.consents_set(person=mentor, choices={"community": True}, channel="portal")
    client.force_login(member.user)
    names, page = _directory_names(client)
    assert names == [mentor.display_name]
    assert colleague.display_name not in names
    assert "not confidential" in page
    services_privacy.consents_set(person=mentor, choices={"community": False}, channel="portal")
    names, _ = _directory_names(client)
    assert names == []


def test_the_usual_desk_is_suggested_only_with_the_personalisation_consent(client, member, site):
    from datetime import timedelta

    from django.utils import timezone

    from tests.bookings.factories import BookingFactory, DeskFactory

    desk = DeskFactory(site=site, label="W-42")
    for days in (3, 10):
        start = timezone.now() - timedelta(days=days)
        BookingFactory(room=None, desk=desk, organiser=member, start=start, status="completed")
    client.force_login(member.user)
    assert b"Your usual desk" not in client.get(reverse("portal:dashboard")).content
    services_privacy.consents_set(person=member, choices={"personalisation": True}, channel="portal")
    assert b"Your usual desk is W-42" in client.get(reverse("portal:dashboard")).content
    services_privacy.consents_set(person=member, choices={"personalisation": False}, channel="portal")
    assert b"Your usual desk" not in client.get(reverse("portal:dashboard")).content
