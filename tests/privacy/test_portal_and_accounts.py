"""The portal's rights pages, password change and reset through the one throttle, and staff reads being logged."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse

from labs.errors import Unauthenticated
from labs.models import ErasureLog, PersonalDataAccess
from labs.services import sign_in
from tests.conftest import _client_for
from tests.factories import PASSWORD
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db


def test_download_my_data_is_the_export_as_a_file(client, subject, world):
    client.force_login(subject.user)
    page = client.get(reverse("portal:my-data"))
    assert page.status_code == 200 and b"Download my data" in page.content
    response = client.get(reverse("portal:my-data-download"))
    assert response["Content-Disposition"].startswith("attachment;")
    body = json.loads(response.content)
    assert body["person"] == subject.pk and body["sections"]["bookings"]


def test_the_rights_pages_name_each_part_of_the_data_in_the_readers_language(client, subject, world):
    """The sections are titled for people (not the export's keys), and what erasure keeps reads in Danish too."""
    client.force_login(subject.user)
    english = client.get(reverse("portal:my-data")).content.decode()
    assert "Your bookings:" in english and "Meetings you organised in the rooms" in english
    assert "room_calendars" not in english and "<li>bookings:" not in english
    client.cookies["django_language"] = "da"
    danish = unescape(client.get(reverse("portal:my-data")).content.decode())
    assert "Dine bookinger:" in danish and "Din konto, profil og dine samtykker:" in danish
    erase = unescape(client.get(reverse("portal:erase-account")).content.decode())
    assert "Dine adgangskort, besøg og adgange gennem dørene: adgangsbeslutninger" in erase
    assert "365 dage" in erase and "365 days" not in erase
    assert json.loads(client.get(reverse("portal:my-data-download")).content)["sections"]["room_calendars"] == []


def test_the_erase_page_needs_the_password_and_the_confirmation(client, subject, world):
    client.force_login(subject.user)
    page = client.get(reverse("portal:erase-account"))
    assert b"365 days" in page.content  # what is kept is shown before
    assert client.post(reverse("portal:erase-account"), {"password": PASSWORD}).status_code == 400  # no confirmation
    wrong = client.post(reverse("portal:erase-account"), {"password": "wrong", "confirm": "on"})
    assert wrong.status_code == 403
    assert 'id="id_confirm" required checked>' in wrong.content.decode()  # only the password is asked again
    response = client.post(reverse("portal:erase-account"), {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert ErasureLog.objects.filter(person_id=subject.pk).exists()
    assert client.get(reverse("portal:my-data")).status_code == 302  # signed out
    assert (
        client.post(reverse("portal:sign-in"), {"username": "zebediah.quill", "password": PASSWORD}).status_code != 302
    )


def test_a_member_changes_their_password(client, member):
    client.force_login(member.user)
    url = reverse("portal:password-change")
    new = "a-much-better-passphrase-42"
    wrong = client.post(url, {"old_password": "nope", "new_password1": new, "new_password2": new})
    assert wrong.status_code == 400
    response = client.post(url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert sign_in(username="member", password=new, ip="10.0.0.9")
    with pytest.raises(Unauthenticated):
        sign_in(username="member", password=PASSWORD, ip="10.0.0.9")


def test_wrong_current_passwords_meet_the_sign_in_throttle(client, member, settings):
    client.force_login(member.user)
    url = reverse("portal:password-change")
    statuses = [
        client.post(
            url, {"old_password": f"x{i}", "new_password1": "abc-def-ghi-1", "new_password2": "abc-def-ghi-1"}
        ).status_code
        for i in range(settings.SIGN_IN_MAX_FAILURES_PER_USER_IP + 1)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {400}


def test_a_forgotten_password_is_reset_by_email_under_the_throttle(
    client, member, settings, django_capture_on_commit_callbacks
):
    url = reverse("portal:password-reset")
    with django_capture_on_commit_callbacks(execute=True):  # the email is sent by a task after commit
        response = client.post(url, {"email": member.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "/set-password/" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post(url, {"email": "nobody@example.test"})
    assert unknown.status_code == 302  # says nothing of which exists
    assert len(mail.outbox) == 1
    for _ in range(settings.SIGN_IN_MAX_FAILURES_PER_USER_IP):
        last = client.post(url, {"email": member.user.email})
    assert last.status_code == 429


def test_staff_reading_a_person_is_logged_from_the_api_and_the_admin(subject, staff, client):
    assert _client_for(staff).get(reverse("labs-api:person-detail", args=[subject.pk])).status_code == 200
    assert PersonalDataAccess.objects.filter(actor=staff, subject=subject, door="api.people.detail").count() == 1
    staff.user.is_staff = True
    staff.user.is_superuser = True
    staff.user.save()
    admin = signed_in(client, staff.user, PASSWORD)
    assert admin.get(reverse("admin:labs_person_change", args=[subject.pk])).status_code == 200
    assert PersonalDataAccess.objects.filter(actor=staff, subject=subject, door="admin.person.change").count() == 1
    _client_for(subject).get(reverse("labs-api:me-export"))  # one's own data is not an access to log
    assert PersonalDataAccess.objects.filter(actor=subject).count() == 0
