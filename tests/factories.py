"""factory_boy factories for the core domain; apps' tests add their own beside their folders."""

from __future__ import annotations

import itertools

import factory
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker.exceptions import UniquenessException

from labs.choices import CompanyKind, Role
from labs.models import Company, Floor, Person, Site, Zone

PASSWORD = "correct horse battery staple"

_overflow = itertools.count(1)


def unique_last_name() -> str:
    """A surname no other person made in this test has (tests/conftest.py clears the record before each test).

    Two people of one test sharing a generated surname made tests fail at random: a page that names the signed-in
    member "Ivan Brooks" also "contains" the colleague Brooks that a check said it must not show. factory_boy's own
    Faker (seeded by pytest-randomly) draws the names; past its ~1,000 surnames one gets a numbered suffix."""
    fake = factory.Faker._get_faker()
    try:
        return fake.unique.last_name()
    except UniquenessException:
        return f"{fake.last_name()}-{next(_overflow)}"


def forget_last_names() -> None:
    factory.Faker._get_faker().unique.clear()


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"site{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.slug}")
    timezone = "Europe/Copenhagen"


class FloorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Floor

    site = factory.SubFactory(SiteFactory)
    level = factory.Sequence(lambda n: n)
    name = factory.LazyAttribute(lambda o: f"Floor {o.level}")


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone

    floor = factory.SubFactory(FloorFactory)
    slug = factory.Sequence(lambda n: f"zone-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    kind = CompanyKind.BUSINESS_MEMBER
    site = factory.SubFactory(SiteFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.LazyFunction(unique_last_name)
    password = factory.django.Password(PASSWORD)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    user = factory.SubFactory(UserFactory)
    role = Role.EMPLOYEE
    site = factory.SubFactory(SiteFactory)
    company = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role in {Role.EMPLOYEE, Role.BUSINESS_MEMBER, Role.PARTNER, Role.SPONSOR}),
        yes_declaration=factory.SubFactory(CompanyFactory, site=factory.SelfAttribute("..site")),
        no_declaration=None,
    )


class AuthenticatorFactory(factory.django.DjangoModelFactory):
    """A confirmed TOTP authenticator (django-otp); ``tests.sign_in.totp_code(device)`` is what its app shows."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "Phone"
    confirmed = True
