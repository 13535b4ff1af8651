"""The set-password page behind the emailed onboarding link."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from labs import services
from labs.choices import Role

pytestmark = pytest.mark.django_db

PASSWORD = "a sound long passphrase"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def link(staff, site, django_capture_on_commit_callbacks) -> str:
    """The path of the link a newly onboarded person is emailed."""
    with django_capture_on_commit_callbacks(execute=True):
        services.person_onboard(
            actor=staff, email="ny@acme.example", first_name="Ny", last_name="Person", role=Role.MENTOR, site=site
        )
    url = re.search(r"https?://\S+/set-password/\S+/", mail.outbox[0].body).group(0)
    return urlsplit(url).path


def test_the_link_leads_to_a_form_without_the_token_in_the_address(client, link):
    response = client.get(link, follow=True)

    ((target, status),) = response.redirect_chain
    assert status == 302 and target.endswith("/set-password/") and link.split("/")[-2] not in target
    page = response.content.decode()
    assert "Choose your password" in page and "ny@acme.example" in page
    assert 'autocomplete="new-password"' in page


def test_a_chosen_password_lets_the_person_sign_in(client, link):
    form = client.get(link, follow=True).redirect_chain[-1][0]

    response = client.post(form, {"new_password1": PASSWORD, "new_password2": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/sign-in/"
    assert "Your password is set" in response.content.decode()
    assert client.post("/sign-in/", {"username": "ny@acme.example", "password": PASSWORD}).status_code == 302


def test_a_weak_password_is_refused_with_the_validators_reasons(client, link):
    form = client.get(link, follow=True).redirect_chain[-1][0]

    response = client.post(form, {"new_password1": "12345678", "new_password2": "12345678"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "This password is too common." in page and "This password is entirely numeric." in page


def test_the_link_works_once(client, link):
    form = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(form, {"new_password1": PASSWORD, "new_password2": PASSWORD})

    page = client.get(link, follow=True).content.decode()

    assert "This link does not work" in page and "new_password1" not in page


def test_a_deactivated_accounts_link_does_not_work(client, link, staff, django_user_model):
    person = django_user_model.objects.get(username="ny@acme.example").person
    services.person_deactivate(actor=staff, person=person)

    page = client.get(link, follow=True).content.decode()

    assert "This link does not work" in page


def test_a_made_up_link_does_not_work(client):
    response = client.get("/set-password/MTIz/abc-def/")

    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()
