"""No analytics table holds a person identifier: checked on the models and on a dump of real rows."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from analytics import services
from labs import privacy
from tests.analytics.conftest import book, local

pytestmark = pytest.mark.django_db


def _analytics_models():
    return list(apps.get_app_config("analytics").get_models())


def test_no_analytics_model_points_at_a_person_or_a_booking():
    for model in _analytics_models():
        for field in model._meta.concrete_fields:
            if field.is_relation:
                assert field.related_model._meta.label in {"labs.Site", "bookings.Room"}, (model, field.name)
            assert not privacy.looks_personal(field), (model, field.name)


def test_a_dump_of_the_analytics_tables_holds_no_person_identifier(site, rooms, people):
    for i, person in enumerate(people[:6]):
        book(
            rooms["A"], person, local(2026, 3, 3, 8 + i), local(2026, 3, 3, 9 + i), attendees=[f"guest{i}@example.test"]
        )
    with time_machine.travel(local(2026, 3, 10, 9), tick=False):
        run = services.run_create(site=site, date_from=local(2026, 3, 2).date(), date_to=local(2026, 3, 8).date())
        services.run_execute(run_id=run.pk)
    out = StringIO()
    call_command("dumpdata", "analytics", stdout=out)
    dump = out.getvalue()
    rows = json.loads(dump)

    assert {row["model"] for row in rows} >= {"analytics.run", "analytics.roomday", "analytics.sitehour"}
    for person in people:
        assert person.user.email not in dump
        assert person.user.username not in dump
        # a whole word: a generated surname may be part of a longer word ("Cope" in "Copenhagen")
        assert not re.search(rf"\b{re.escape(person.user.last_name)}\b", dump)
    assert "guest" not in dump
    assert "@" not in dump
    person_ids = {p.pk for p in people}
    for row in rows:
        assert not set(row["fields"]) & {"organiser", "person", "user", "company", "booking", "created_by"}
    assert all(key not in {"organiser_id", "person_id"} for row in rows for key in row["fields"])
    assert person_ids  # the people exist; none of their ids is a field of any row above
