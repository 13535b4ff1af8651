from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps

from labs import privacy

PROJECT_APPS = {"labs", "bookings", "comfort", "badges", "calendars", "portal"}


def _project_models():
    return [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS or m._meta.label == "auth.User"]


def test_every_personal_looking_field_is_declared():
    assert privacy.undeclared_personal_fields(_project_models()) == []


def test_no_declaration_names_a_field_that_does_not_exist():
    assert privacy.unknown_declarations(_project_models()) == []


@isolate_apps("labs")
def test_it_reports_an_undeclared_personal_field():
    class Guestbook(models.Model):
        email = models.EmailField()
        room_count = models.IntegerField()
        remarks = models.TextField()

        class Meta:
            app_label = "labs"

    assert privacy.undeclared_personal_fields([Guestbook]) == ["labs.Guestbook.email", "labs.Guestbook.remarks"]

    privacy.declare(
        Guestbook,
        email=privacy.PersonalData(
            privacy.Category.VISITOR_IDENTITY,
            (privacy.Purpose.ISSUE_BADGE,),
            privacy.LegalBasis.LEGITIMATE_INTEREST,
            "until the visit ends + 30 days",
            30,
        ),
    )
    privacy.not_personal(Guestbook, remarks="operator notes about the guestbook itself")
    assert privacy.undeclared_personal_fields([Guestbook]) == []


def test_the_register_covers_every_category_of_the_policy_for_core_data():
    rows = privacy.register_fields()
    labels = {(row["model"], row["field"]) for row in rows}
    assert ("auth.User", "email") in labels
    assert ("labs.Person", "phone") in labels
    assert all(row["legal_basis"] in privacy.LegalBasis.values for row in rows)
    assert all(row["retention"] for row in rows)
