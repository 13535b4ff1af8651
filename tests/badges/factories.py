"""Factories and helpers for the badges tests: doors with rules, readers with keys, badges through the services."""

from __future__ import annotations

from datetime import datetime

import factory

from badges import codes, services
from badges.models import Door, DoorRule, all_weekdays
from tests.factories import SiteFactory


class DoorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Door

    site = factory.SubFactory(SiteFactory)
    slug = factory.Sequence(lambda n: f"door-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    allows_visitors = True


class DoorRuleFactory(factory.django.DjangoModelFactory):
    """Every role, every day, all day, unless told otherwise."""

    class Meta:
        model = DoorRule
        skip_postgeneration_save = True

    door = factory.SubFactory(DoorFactory)
    roles = factory.LazyFunction(list)
    weekdays = factory.LazyFunction(all_weekdays)

    @factory.post_generation
    def companies(self, create, extracted, **kwargs):
        if create and extracted:
            self.companies.set(extracted)


_reader_numbers = iter(range(1, 10**6))


def make_reader(door: Door, slug: str | None = None):
    """A reader at ``door`` and its API key."""
    return services.reader_create(site=door.site, door=door, slug=slug or f"reader-{next(_reader_numbers)}")


def code_at(badge, at: datetime) -> str:
    """The QR value the badge's holder shows at ``at``."""
    return codes.code_for(badge.public_id, bytes(badge.secret), codes.step_at(at))
