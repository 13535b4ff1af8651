"""The badges admin: every model's pages open for the demo staff; state changes go through the services; the audit
log is read-only."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from badges.choices import BadgeStatus
from badges.models import AccessDecision, Badge, BadgeCodeUse, Door, Reader, Visit
from labs.models import Person
from tests.sign_in import admin_sign_in, authenticator_for

pytestmark = pytest.mark.django_db

MODELS = [Door, Reader, Badge, Visit, AccessDecision, BadgeCodeUse]


@pytest.fixture
def demo_staff_client(client, monkeypatch):
    monkeypatch.delenv("DEMO_READER_KEY", raising=False)
    call_command("demo_site", stdout=StringIO())
    staff = get_user_model().objects.get(username="staff")
    assert admin_sign_in(client, "staff", "demo", device=authenticator_for(staff)).status_code == 302
    return client


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_demo_staff_open_every_badges_changelist(demo_staff_client, model, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        assert demo_staff_client.get(admin_url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", [Door, Reader, Badge, Visit], ids=lambda m: m.__name__)
def test_the_demo_staff_open_a_change_form(demo_staff_client, model):
    obj = model.objects.order_by("pk").first()
    assert demo_staff_client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_the_audit_log_cannot_be_added_changed_or_deleted(demo_staff_client, client):
    from badges.services import access_decide

    row = access_decide(
        reader=Reader.objects.get(slug="cph-main"), reader_ref="cph-main", credential_type="qr", value="x",
        channel="http",
    )  # fmt: skip
    assert demo_staff_client.get(admin_url(AccessDecision, "add")).status_code == 403
    assert demo_staff_client.get(admin_url(AccessDecision, "delete", row.audit_id)).status_code == 403
    response = demo_staff_client.post(admin_url(AccessDecision, "change", row.audit_id), {"allow": "on"})
    assert response.status_code == 403
    assert AccessDecision.objects.get(pk=row.audit_id).allow is False
    html = demo_staff_client.get(admin_url(AccessDecision, "changelist")).content.decode()
    assert "action-select" not in html  # no bulk actions, not even delete


def test_the_audit_log_has_only_a_view_permission():
    from django.contrib.auth.models import Permission

    codenames = set(Permission.objects.filter(content_type__model="accessdecision").values_list("codename", flat=True))
    assert codenames == {"view_accessdecision"}


def test_staff_issue_a_card_in_the_admin(demo_staff_client):
    person = Person.objects.get(user__username="colleague")
    response = demo_staff_client.post(
        admin_url(Badge, "add"), {"person": person.pk, "kind": "card", "card_uid": "04:99:88:77", "valid_until": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    card = Badge.objects.get(person=person, kind="card")
    assert card.card_uid_hint == "8877" and card.issued_by.user.username == "staff"


def test_staff_revoke_from_the_changelist(demo_staff_client):
    badge = Badge.objects.get(person__user__username="member", kind="digital")
    response = demo_staff_client.post(
        admin_url(Badge, "changelist"), {"action": "revoke", "_selected_action": [badge.pk]}
    )
    assert response.status_code == 302
    badge.refresh_from_db()
    assert badge.status == BadgeStatus.REVOKED


def test_a_new_reader_gets_a_key_shown_once(demo_staff_client):
    door = Door.objects.get(slug="main-entrance")
    response = demo_staff_client.post(
        admin_url(Reader, "add"),
        {"slug": "cph-side", "site": door.site_id, "door": door.pk, "name": "Side", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    reader = Reader.objects.get(slug="cph-side")
    shown = [str(m) for m in response.context["messages"] if "API key of cph-side" in str(m)]
    assert len(shown) == 1
    from badges import codes

    assert codes.reader_key_matches(reader.key_digest, shown[0].split(": ", 1)[1])


def test_a_danish_admin_reads_what_the_actions_did_and_refused_in_danish(demo_staff_client):
    member = Badge.objects.get(person__user__username="member", kind="digital")
    colleague = Badge.objects.get(person__user__username="colleague", kind="digital")
    demo_staff_client.post(admin_url(Badge, "changelist"), {"action": "revoke", "_selected_action": [colleague.pk]})

    response = demo_staff_client.post(
        admin_url(Badge, "changelist"),
        {"action": "suspend", "_selected_action": [member.pk, colleague.pk]},  # the colleague's is revoked
        HTTP_ACCEPT_LANGUAGE="da",
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert "Suspenderet: 1." in shown
    assert f"{colleague}: Et tilbagekaldt adgangskort kan ikke suspenderes. [conflict]" in shown  # its stable code
    assert "Suspended" not in " ".join(shown)


def test_a_card_already_in_use_is_refused_in_the_admins_language(demo_staff_client):
    owner, other = (Person.objects.get(user__username=name) for name in ("colleague", "mentor"))
    fields = {"kind": "card", "card_uid": "04:99:88:77", "valid_until": ""}
    demo_staff_client.post(admin_url(Badge, "add"), {"person": owner.pk, **fields})

    response = demo_staff_client.post(
        admin_url(Badge, "add"), {"person": other.pk, **fields}, HTTP_ACCEPT_LANGUAGE="da", follow=True
    )

    shown = [str(m) for m in response.context["messages"]]
    assert "Dette kort er allerede registreret til et gyldigt adgangskort." in shown
    assert not Badge.objects.filter(person=other, kind="card").exists()
