"""Where a person's badge and access data lies (labs.rights), and the badges' retention purges."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from badges.models import AccessDecision, Badge, BadgeCodeUse, Visit
from labs import rights
from labs.models import Person


def _export(person: Person):
    badges = Badge.objects.filter(person=person)
    return [
        badges,
        Visit.objects.filter(host=person).order_by("start"),
        BadgeCodeUse.objects.filter(badge__in=badges),
        AccessDecision.objects.filter(person_id=person.pk).order_by("at"),
    ]


def _render(person: Person, instance, name: str, value):
    """A visit the person hosted: its visitor's name and email are the visitor's, not the host's."""
    if isinstance(instance, Visit) and name in {"name", "email"}:
        return rights.OMIT
    return value


def _erase(person: Person, pseudonym: str) -> None:
    """Badges (revoked already by the access_revoked hook) and their code uses are deleted, with the visits the
    person hosted; access decisions are the audit the law requires: they keep the person's id, now a pseudonym."""
    Badge.objects.filter(person=person).delete()
    for visit_id in list(Visit.objects.filter(host=person).values_list("pk", flat=True)):
        Visit.objects.filter(pk=visit_id).delete()


def _code_uses_purge(now) -> int:
    from badges.services import badge_code_uses_purge

    return badge_code_uses_purge(now=now)


def _visits_purge(now) -> int:
    from badges.services import visits_purge

    return visits_purge(now=now)


def _access_decisions_purge(now) -> int:
    from badges.services import access_decisions_purge

    return access_decisions_purge(now=now)


SOURCE = rights.PersonalDataSource(
    name="badges",
    export=_export,
    erase=_erase,
    render=_render,
    order=70,
    title=gettext_lazy("Your badges, visits and door entries"),
    kept=gettext_lazy(
        "access decisions (who passed which door when) are kept 365 days for the site's security, naming only "
        "the pseudonym"
    ),
)


def register() -> None:
    rights.register_source(SOURCE)
    rights.register_purge("badges.code_uses", _code_uses_purge)
    rights.register_purge("badges.visits", _visits_purge)
    rights.register_purge("badges.access_decisions", _access_decisions_purge)
