"""GET /api/v1/me/export/: every source, every declared field with its declaration, never another person's data."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from labs import rights
from labs.models import PersonalDataAccess
from tests.conftest import _client_for

pytestmark = pytest.mark.django_db


def _export(person):
    response = _client_for(person).get(reverse("labs-api:me-export"))
    assert response.status_code == 200
    return response.json()


def test_it_exports_every_registered_source_with_declarations(subject, world):
    body = _export(subject)
    assert set(body["sections"]) == {s.name for s in rights.sources()}
    account = {row["model"]: row for row in body["sections"]["account"]}
    email = account["auth.User"]["fields"]["email"]
    assert email["value"] == "zebediah.quillfeather@acme.example"
    assert email["category"] == "contact_professional" and email["legal_basis"] == "contract"
    assert email["retention"] and email["purposes"]
    assert account["labs.Person"]["fields"]["job_title"]["value"] == "Chief Vexillologist"
    assert account["auth.User"]["fields"]["password"]["value"] == rights.HIDDEN
    bookings = {row["id"]: row for row in body["sections"]["bookings"] if row["model"] == "bookings.Booking"}
    assert bookings[world["own"].pk]["fields"]["title"]["value"] == "Zebediah's roadmap"
    assert bookings[world["past"].pk]["fields"]["title"]["value"] == "Old Quillfeather sync"
    comfort = body["sections"]["comfort"]
    assert comfort[0]["fields"]["desk_sit_height_mm"]["value"] == 777
    badges = body["sections"]["badges"]
    assert {row["model"] for row in badges} >= {"badges.Badge", "badges.Visit", "badges.AccessDecision"}
    assert body["kept_after_erasure"]["badges"]


def test_it_never_holds_another_persons_data(subject, colleague, outsider, world):
    text = json.dumps(_export(subject))
    for other in (colleague, outsider):
        assert other.user.email not in text
        assert other.user.username not in text
    assert "Colleague's private offsite" not in text  # a colleague's booking the subject only attends
    assert "Vera Vistula" not in text and "vera.vistula" not in text  # the visitor's identity is the visitor's
    attended = next(
        r for r in _export(subject)["sections"]["bookings"] if r["id"] == world["attended"].pk
    )  # shown as: the subject attends it
    assert attended["fields"] == {"attendees": attended["fields"]["attendees"]}
    assert attended["fields"]["attendees"]["value"] == ["zebediah.quillfeather@acme.example", "(another person)"]


def test_a_colleague_sees_only_their_own(subject, colleague, world):
    text = json.dumps(_export(colleague))
    assert "Zebediah" not in text and "zebediah" not in text
    assert "Colleague's private offsite" in text


def test_staff_export_of_another_is_logged_and_scoped(subject, staff, outsider_client, world):
    url = reverse("labs-api:person-export", args=[subject.pk])
    assert outsider_client.get(url).status_code == 403
    response = _client_for(staff).get(url)
    assert response.status_code == 200
    assert response.json()["person"] == subject.pk
    assert PersonalDataAccess.objects.filter(actor=staff, subject=subject, door="api.people.export").exists()


def test_anonymous_is_refused(anon_client):
    assert anon_client.get(reverse("labs-api:me-export")).status_code in {401, 403}
