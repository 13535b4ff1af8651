"""Erasure: re-authenticated by the person or by staff; credentials end, every app's rows are removed or
pseudonymised, the audit keeps a pseudonym, and a restored backup can replay it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from badges.models import AccessDecision, Badge, Visit
from bookings.models import Booking, CalendarFeed
from comfort.models import Preference
from labs import services_privacy
from labs.errors import Unauthenticated
from labs.models import Consent, ErasureLog, Person
from labs.services import sign_in
from tests.conftest import _client_for
from tests.factories import PASSWORD
from tests.privacy.conftest import CARD_UID
from tests.sign_in import signed_in

pytestmark = pytest.mark.django_db
User = get_user_model()
IDENTIFIERS = ("zebediah.quill", "zebediah.quillfeather@acme.example", "Zebediah", "Quillfeather", CARD_UID)


def _erase_self(person, password=PASSWORD):
    return _client_for(person).post(reverse("labs-api:me-erase"), {"password": password}, format="json")


def test_a_wrong_password_is_a_403_and_changes_nothing(subject, world):
    response = _erase_self(subject, "not-my-password")
    assert response.status_code == 403
    subject.refresh_from_db()
    assert subject.erased_at is None and subject.user.username == "zebediah.quill"
    assert Badge.objects.filter(person=subject).count() == 2
    danish = _client_for(subject).post(
        reverse("labs-api:me-erase"), {"password": "nope"}, format="json", HTTP_ACCEPT_LANGUAGE="da"
    )
    assert (danish.status_code, danish.json()) == (403, {"detail": "Forkert adgangskode.", "code": "forbidden"})


def test_no_password_is_a_400(subject):
    assert _client_for(subject).post(reverse("labs-api:me-erase"), {}, format="json").status_code == 400


def test_erasure_removes_or_pseudonymises_every_row(subject, colleague, world):
    Token.objects.create(user=subject.user)
    response = _erase_self(subject)
    assert response.status_code == 202, response.content

    subject.refresh_from_db()
    user = subject.user
    log = ErasureLog.objects.get(person_id=subject.pk)
    assert user.username == log.pseudonym and log.pseudonym.startswith("erased-")
    assert (user.email, user.first_name, user.last_name, subject.phone, subject.job_title) == ("", "", "", "", "")
    assert not user.is_active and not user.has_usable_password() and subject.erased_at is not None
    assert not Token.objects.filter(user=user).exists()
    with pytest.raises(Unauthenticated):
        sign_in(username="zebediah.quill", password=PASSWORD, ip="10.0.0.1")
    # bookings: kept for analysis without title or attendees; the future one cancelled; out of others' lists
    own = Booking.objects.get(pk=world["own"].pk)
    assert (own.title, own.attendees, own.attendee_count, own.status) == ("", [], 1, "cancelled")
    assert Booking.objects.get(pk=world["past"].pk).title == ""
    attended = Booking.objects.get(pk=world["attended"].pk)
    assert attended.attendees == [colleague.site.people.get(user__username="outsider").user.email]
    assert attended.attendee_count == 2 and attended.title == "Colleague's private offsite"
    # the rest of the apps
    assert not Preference.objects.filter(person=subject).exists()
    assert not CalendarFeed.objects.filter(person=subject).exists()
    assert not Badge.objects.filter(person=subject).exists()
    assert not Visit.objects.filter(host=subject).exists()
    assert not Consent.objects.filter(person=subject).exists()
    # the audit keeps its row, pointing at the pseudonymised person
    assert AccessDecision.objects.filter(person_id=subject.pk).count() == 1
    # the erasure log holds no identifier
    assert not any(i.lower() in json.dumps([log.pseudonym, str(log.erased_at)]).lower() for i in IDENTIFIERS)


def test_the_token_door_refuses_the_erased_account(subject, anon_client):
    assert _erase_self(subject).status_code == 202
    response = anon_client.post(
        reverse("labs-api:auth-token"), {"username": "zebediah.quill", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


def test_staff_erase_on_request_and_only_at_their_site(subject, staff, outsider, world):
    url = reverse("labs-api:person-erase", args=[subject.pk])
    assert _client_for(outsider).post(url).status_code == 403
    assert _client_for(staff).post(reverse("labs-api:person-erase", args=[staff.pk])).status_code == 403
    response = _client_for(staff).post(url)
    assert response.status_code == 202
    assert ErasureLog.objects.get(person_id=subject.pk).by_staff


def test_erasing_twice_keeps_one_log_and_the_pseudonym(subject, staff):
    services_privacy.person_erase(actor=staff, person=subject)
    pseudonym = Person.objects.get(pk=subject.pk).user.username
    services_privacy.person_erase(actor=staff, person=Person.objects.get(pk=subject.pk))
    assert ErasureLog.objects.filter(person_id=subject.pk).count() == 1
    assert Person.objects.get(pk=subject.pk).user.username == pseudonym


def test_a_restored_backup_is_erased_again_by_the_replay(subject, staff, world):
    services_privacy.person_erase(actor=staff, person=subject)
    # A backup from before the erasure comes back: the identifiers and the title are there again.
    User.objects.filter(pk=subject.user_id).update(
        username="zebediah.quill", email="zebediah.quillfeather@acme.example", first_name="Zebediah", is_active=True
    )
    Booking.objects.filter(pk=world["own"].pk).update(title="Zebediah's roadmap")
    out = StringIO()
    call_command("replay_erasures", stdout=out)
    assert "1 erasures replayed" in out.getvalue()
    user = User.objects.get(pk=subject.user_id)
    assert user.username == ErasureLog.objects.get(person_id=subject.pk).pseudonym
    assert (user.email, user.first_name, user.is_active) == ("", "", False)
    assert Booking.objects.get(pk=world["own"].pk).title == ""


def test_the_export_before_erasure_lists_what_is_kept(subject):
    body = _client_for(subject).get(reverse("labs-api:me-export")).json()
    assert "pseudonym" in body["kept_after_erasure"]["account"]
    assert "365 days" in body["kept_after_erasure"]["badges"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_dump_after_erasure_holds_none_of_the_identifiers(subject, world):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    assert _erase_self(subject).status_code == 202
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = ["pg_dump", "--data-only", "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    command += ["-U", db.get("USER") or "postgres", db["NAME"]]
    dump = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
    assert "Colleague's private offsite" in dump  # the dump is real and holds the others' data
    for identifier in IDENTIFIERS:
        assert identifier.lower() not in dump.lower(), identifier
    assert "+45 1234 9876" not in dump and "Chief Vexillologist" not in dump
    assert settings.USES_POSTGRES


def test_an_erased_person_cannot_be_edited_or_reactivated(subject, staff):
    services_privacy.person_erase(actor=staff, person=subject)
    url = reverse("labs-api:person-detail", args=[subject.pk])
    assert _client_for(staff).patch(url, {"is_active": True}, format="json").status_code == 409
    assert _client_for(staff).patch(url, {"first_name": "Zebediah"}, format="json").status_code == 409
    assert not User.objects.get(pk=subject.user_id).is_active


def test_the_desk_the_person_sits_at_returns_to_its_defaults(
    subject, site, settings, django_capture_on_commit_callbacks
):
    from comfort import services as comfort_services
    from comfort.models import Device
    from tests.bookings.factories import DeskFactory
    from tests.comfort.factories import DeviceFactory, PreferenceFactory

    desk = DeskFactory(site=site)
    device = DeviceFactory(kind="desk", desk=desk)
    PreferenceFactory(person=subject, desk_sit_height_mm=1010)
    with django_capture_on_commit_callbacks(execute=True):
        comfort_services.workspace_check_in(person=subject, desk=desk)
    assert Device.objects.get(pk=device.pk).desired == {"height_mm": 1010}
    from comfort.models import Command
    from labs.models import OutboxMessage

    theirs = [str(c) for c in Command.objects.filter(acts_for=subject).values_list("cmd_id", flat=True)]
    OutboxMessage.objects.update(sent_at=timezone.now())  # the bridge published them
    with django_capture_on_commit_callbacks(execute=True):
        assert _erase_self(subject).status_code == 202
    assert Device.objects.get(pk=device.pk).desired == {"height_mm": settings.COMFORT_DESK_DEFAULT_HEIGHT_MM}
    # the sent MQTT messages that carried their commands are gone, and no command names them any more
    assert theirs and not [m for m in OutboxMessage.objects.all() if m.payload.get("cmd_id") in theirs]
    assert not Command.objects.filter(acts_for=subject, cmd_id__in=theirs).exists()  # before erasure


def test_the_admin_erases_on_request_through_the_same_service(subject, staff, client, world):
    staff.user.is_staff = True
    staff.user.is_superuser = True
    staff.user.save()
    admin = signed_in(client, staff.user, PASSWORD)
    response = admin.post(
        reverse("admin:labs_person_changelist"), {"action": "erase", "_selected_action": [subject.pk]}
    )
    assert response.status_code == 302
    assert ErasureLog.objects.get(person_id=subject.pk).by_staff
    assert not Badge.objects.filter(person=subject).exists()
    log_page = admin.get(reverse("admin:labs_erasurelog_changelist"))
    assert log_page.status_code == 200 and b"zebediah" not in log_page.content.lower()


def test_the_export_is_never_cached(subject):
    response = _client_for(subject).get(reverse("labs-api:me-export"))
    assert "no-store" in response["Cache-Control"]


def test_a_backup_from_before_the_erasure_is_erased_again_from_the_file(
    subject, staff, world, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services_privacy.person_erase(actor=staff, person=subject)
    pseudonym = ErasureLog.objects.get(person_id=subject.pk).pseudonym
    lines = services_privacy.erasure_file_entries(settings.ERASURE_LOG_FILE)
    assert [(line["person_id"], line["pseudonym"]) for line in lines] == [(subject.pk, pseudonym)]
    assert "zebediah" not in Path(settings.ERASURE_LOG_FILE).read_text().lower()
    # The restored database predates the erasure: the person is back, the log row is not.
    ErasureLog.objects.all().delete()
    User.objects.filter(pk=subject.user_id).update(username="zebediah.quill", email="z@acme.example", is_active=True)
    Person.objects.filter(pk=subject.pk).update(erased_at=None)
    out = StringIO()
    call_command("replay_erasures", stdout=out)
    assert "1 erasures replayed" in out.getvalue()
    user = User.objects.get(pk=subject.user_id)
    assert (user.username, user.email, user.is_active) == (pseudonym, "", False)
    assert ErasureLog.objects.get(person_id=subject.pk).pseudonym == pseudonym
