import re
from base64 import b32decode
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from labs.choices import CompanyKind, Role
from labs.models import Company, Person, Site, Zone
from portal.management.commands.demo_site import DEMO_PASSWORD, DEMO_TOTP_SECRET, SIGN_INS

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_demo() -> str:
    out = StringIO()
    call_command("demo_site", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    """Rows of every model of the project's apps (the apps' own demo data included) and of auth."""
    models = [
        model
        for model in apps.get_models()
        if model._meta.app_label in {"labs", "bookings", "comfort", "badges", "portal", "auth"}
    ]
    return {model._meta.label: model.objects.count() for model in models}


def report(output: str) -> str:
    """demo_site's own summary; the apps' seed() lines before it may say what each run added."""
    return output[output.index("Demo site ready") :]


def test_it_is_idempotent():
    first_output = run_demo()
    first = counts()
    second_output = run_demo()
    assert counts() == first
    assert report(second_output) == report(first_output)


def test_it_builds_the_copenhagen_site_with_two_floors_of_zones():
    run_demo()
    site = Site.objects.get(slug="cph")
    assert site.name == "Copenhagen"
    assert site.timezone == "Europe/Copenhagen"
    assert site.address
    assert [f.level for f in site.floors.all()] == [1, 2]
    slugs = set(Zone.objects.filter(floor__site=site).values_list("slug", flat=True))
    assert {"f1-north", "f1-south", "f2-north"} <= slugs
    for floor in site.floors.all():
        assert floor.zones.count() == 3


def test_it_creates_five_companies_of_each_kind():
    run_demo()
    for kind in CompanyKind.values:
        assert Company.objects.filter(kind=kind).count() == 5


def test_every_role_is_present_among_about_150_people():
    run_demo()
    assert set(Person.objects.values_list("role", flat=True)) == set(Role.values)
    assert 140 <= Person.objects.count() <= 160
    for company in Company.objects.all():
        representative = Person.objects.filter(company=company).exclude(role=Role.EMPLOYEE)
        assert representative.count() == 1, company.name


@pytest.mark.parametrize("username", [s.username for s in SIGN_INS])
def test_each_demo_sign_in_authenticates_with_the_demo_password(username):
    run_demo()
    assert authenticate(username=username, password=DEMO_PASSWORD) is not None
    assert authenticate(username=username, password="wrong") is None


def test_the_six_documented_sign_ins_exist():
    assert {s.username for s in SIGN_INS} == {"staff", "member", "colleague", "outsider", "mentor", "sponsor"}


def test_member_and_colleague_share_a_company_and_outsider_does_not():
    run_demo()
    member, colleague, outsider = (
        Person.objects.get(user__username=name) for name in ("member", "colleague", "outsider")
    )
    assert member.company_id == colleague.company_id
    assert member.company.kind == CompanyKind.BUSINESS_MEMBER
    assert outsider.company_id not in (None, member.company_id)


def test_the_named_people_have_their_roles():
    run_demo()
    roles = dict(
        Person.objects.filter(user__username__in=[s.username for s in SIGN_INS]).values_list("user__username", "role")
    )
    assert roles == {
        "staff": Role.STAFF,
        "member": Role.EMPLOYEE,
        "colleague": Role.EMPLOYEE,
        "outsider": Role.EMPLOYEE,
        "mentor": Role.MENTOR,
        "sponsor": Role.SPONSOR,
    }
    assert Person.objects.get(user__username="sponsor").company.kind == CompanyKind.SPONSOR


def test_only_the_staff_sign_in_may_use_the_admin():
    run_demo()
    assert list(User.objects.filter(is_staff=True).values_list("username", flat=True)) == ["staff"]
    assert not User.objects.filter(is_superuser=True).exists()


def test_people_other_than_the_demo_sign_ins_cannot_sign_in():
    run_demo()
    others = User.objects.exclude(username__in=[s.username for s in SIGN_INS])
    assert others.count() > 100
    assert not any(user.has_usable_password() for user in others)


def test_a_second_run_restores_a_changed_demo_password():
    run_demo()
    user = User.objects.get(username="member")
    user.set_password("something else entirely")
    user.save()
    run_demo()
    assert authenticate(username="member", password=DEMO_PASSWORD) is not None


def test_it_prints_the_sign_ins_and_the_urls():
    output = run_demo()
    for sign_in in SIGN_INS:
        assert f"  {sign_in.username} " in output
    assert "http://127.0.0.1:8000/" in output
    assert "/admin/" in output
    assert "/api/v1/docs/" in output


def test_the_demo_member_signs_in_to_the_portal_and_sees_their_company(client):
    run_demo()
    response = client.post("/sign-in/", {"username": "member", "password": DEMO_PASSWORD}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Welcome, Maja Jensen" in html
    assert "Nordlys Robotics" in html
    assert "Fjord Analytics" not in html


# --- The demo staff's second factor --------------------------------------------------------------------------------


def test_the_demo_staff_has_an_authenticator_with_the_published_secret():
    run_demo()
    device = TOTPDevice.objects.get(user__username="staff")
    assert device.confirmed
    assert device.key == b32decode(DEMO_TOTP_SECRET).hex()
    run_demo()
    assert TOTPDevice.objects.filter(user__username="staff").count() == 1


def test_a_second_run_restores_a_changed_demo_secret():
    run_demo()
    TOTPDevice.objects.filter(user__username="staff").update(key="00" * 20)
    run_demo()
    assert TOTPDevice.objects.get(user__username="staff").key == b32decode(DEMO_TOTP_SECRET).hex()


def test_it_prints_how_to_get_the_staff_code():
    output = run_demo()
    assert "python manage.py demo_totp" in output
    assert "LABS DEMO TOTP SECR ETNO TFOR PROD UCTN" in output


def test_demo_totp_prints_a_code_that_signs_the_demo_staff_in(client):
    run_demo()
    out = StringIO()
    call_command("demo_totp", stdout=out)
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"\d{6}", lines[0])
    assert f"otpauth://totp/Labs%3Astaff?secret={DEMO_TOTP_SECRET}&" in out.getvalue()
    client.post("/sign-in/", {"username": "staff", "password": DEMO_PASSWORD})
    response = client.post("/sign-in/code/", {"code": lines[0]})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/reception/").status_code == 200


def test_demo_totp_refuses_an_account_without_the_demo_authenticator():
    run_demo()
    with pytest.raises(CommandError, match="no demo authenticator"):
        call_command("demo_totp", "member", stdout=StringIO())


@pytest.mark.parametrize("command", ["demo_site", "demo_totp"])
def test_the_demo_commands_refuse_to_run_in_production(command, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run in LABS_ENV=production"):
        call_command(command, stdout=StringIO())
    assert not TOTPDevice.objects.exists()
