"""The labs admin renders for a superuser and for the demo's staff sign-in (a staff account with permissions)."""

from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from labs.models import Company, Floor, Person, SignInCounter, Site, Zone
from tests.sign_in import admin_sign_in, authenticator_for, signed_in

pytestmark = pytest.mark.django_db

LABS_MODELS = [Site, Floor, Zone, Company, Person, SignInCounter]


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_site", stdout=StringIO())


@pytest.fixture
def demo_staff_client(client, demo):
    """Signed in at the admin's login as a person would: password and the demo authenticator's code."""
    staff = get_user_model().objects.get(username="staff")
    response = admin_sign_in(client, "staff", "demo", device=authenticator_for(staff))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    return client


@pytest.fixture
def superuser_client(client, member):
    user = get_user_model().objects.create_superuser("root", "root@example.test", "a-long-root-password")
    return signed_in(client, user, "a-long-root-password")


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", LABS_MODELS, ids=lambda m: m.__name__)
def test_the_demo_staff_can_open_every_labs_changelist(demo_staff_client, model):
    response = demo_staff_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", [Site, Floor, Zone, Company, Person], ids=lambda m: m.__name__)
def test_the_demo_staff_can_open_a_change_form(demo_staff_client, model):
    obj = model.objects.order_by("pk").first()
    response = demo_staff_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


def test_the_person_changelist_searches_and_filters(demo_staff_client):
    response = demo_staff_client.get(admin_url(Person, "changelist"), {"q": "Jensen", "role__exact": "employee"})
    assert response.status_code == 200
    assert "Maja Jensen" in response.content.decode()


def test_the_person_changelist_does_not_query_per_row(demo_staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        assert demo_staff_client.get(admin_url(Person, "changelist")).status_code == 200


def test_the_admin_index_lists_the_labs_models_for_demo_staff(demo_staff_client):
    html = demo_staff_client.get(reverse("admin:index")).content.decode()
    for model in (Site, Company, Person):
        assert str(model._meta.verbose_name_plural).capitalize() in html


def test_members_are_kept_out_of_the_admin(client, demo):
    assert client.login(username="member", password="demo")
    response = client.get(admin_url(Person, "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_every_registered_changelist_renders_for_a_superuser(superuser_client):
    for model in admin.site._registry:
        response = superuser_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
