"""The admin speaks the operator's language: every label and help text it takes from our models is translatable and
has Danish (locale/da/LC_MESSAGES/django.po).

Django derives a field's label from its name ("valid_from" -> "valid from") as a plain string, which no catalogue
can translate: a Danish admin then read "Public id", "Kind", "Valid from" among Danish words. So every field of a
model the admin shows declares ``verbose_name=gettext_lazy(...)``, every help text is wrapped, and every model names
itself (``Meta.verbose_name``, ``verbose_name_plural``).
"""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib import admin
from django.forms import ModelChoiceField
from django.utils.functional import Promise
from django.utils.translation import override

PO = Path(settings.BASE_DIR) / "locale" / "da" / "LC_MESSAGES" / "django.po"
OUR_APPS = {"labs", "badges", "bookings", "calendars", "comfort", "analytics"}
# Django's admin adds this to a many-to-many field's help, translated when it builds the form (in the request's
# language): a plain string, but not ours.
DJANGO_SELECT_MANY = "Hold down “Control”, or “Command” on a Mac, to select more than one."


def _our_admin_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in OUR_APPS),
        key=lambda model: model._meta.label,
    )


def _texts(model) -> list[tuple[str, object]]:
    """(where, text) for every label and help text the admin takes from ``model``."""
    meta = model._meta
    texts = [(f"{meta.label}.Meta.verbose_name", meta.verbose_name)]
    texts.append((f"{meta.label}.Meta.verbose_name_plural", meta.verbose_name_plural))
    for field in [*meta.fields, *meta.many_to_many]:
        if field.auto_created:  # the primary key "ID": Django's own, translated by Django
            continue
        texts.append((f"{meta.label}.{field.name}", field.verbose_name))
        if field.help_text:
            texts.append((f"{meta.label}.{field.name} help_text", field.help_text))
    return texts


def test_the_admin_shows_our_models():
    labels = {model._meta.label for model in _our_admin_models()}
    assert {"labs.Person", "badges.Badge", "bookings.Booking", "comfort.Device"} <= labels


@pytest.mark.parametrize("model", _our_admin_models(), ids=lambda model: model._meta.label)
def test_every_label_and_help_text_is_wrapped_for_translation(model):
    plain = [where for where, text in _texts(model) if not isinstance(text, Promise)]
    assert not plain, f"not wrapped in gettext_lazy: {plain}"


@pytest.mark.parametrize("model", _our_admin_models(), ids=lambda model: model._meta.label)
def test_every_label_and_help_text_has_danish(model):
    translated = {entry.msgid for entry in polib.pofile(str(PO)) if not entry.obsolete and entry.msgstr}
    with override("en"):
        missing = [f"{where}: {str(text)!r}" for where, text in _texts(model) if str(text) not in translated]
    assert not missing, "no Danish in django.po for:\n" + "\n".join(missing)


@pytest.mark.django_db
def test_a_danish_admin_reads_danish_column_headers(admin_client_staff, staff, member):
    from badges import services as badge_services
    from badges.choices import BadgeKind
    from badges.models import Badge

    badge_services.badge_issue(actor=staff, person=member, kind=BadgeKind.DIGITAL)
    response = admin_client_staff.get("/admin/badges/badge/", HTTP_ACCEPT_LANGUAGE="da")
    html = response.content.decode()
    assert response.status_code == 200
    with override("da"):
        valid_from = str(Badge._meta.get_field("valid_from").verbose_name)
    assert valid_from != "valid from"
    assert valid_from[0].upper() + valid_from[1:] in html
    assert "Valid from" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("model", _our_admin_models(), ids=lambda model: model._meta.label)
def test_every_admin_form_field_has_a_translatable_label_and_help_text(model, rf, staff):
    """The forms the admin builds (its own fields, ``Meta.help_texts``, labels from the models) speak the admin's
    language: a plain string there ("Account active", "None ticked: every role.") stays English in a Danish admin."""
    staff.user.is_staff = staff.user.is_superuser = True
    staff.user.save()
    request = rf.get("/admin/")
    request.user = staff.user
    model_admin = admin.site._registry[model]
    plain = []
    for change in (False, True):
        obj = model.objects.first() if change else None
        if change and obj is None:
            continue
        forms = [model_admin.get_form(request, obj, change=change)]
        forms += [inline.get_formset(request, obj).form for inline in model_admin.get_inline_instances(request, obj)]
        for name, field in [(name, field) for form in forms for name, field in form.base_fields.items()]:
            if field.label is None:  # Django makes one from the name when it renders: English only
                plain.append(f"{name} label from its name")
            elif not isinstance(field.label, Promise):
                plain.append(f"{name} label {field.label!r}")
            else:
                for language in ("en", "da"):  # Django capitalises a model field's label, not a form's own
                    with override(language):
                        if not str(field.label)[:1].isupper():
                            plain.append(f"{name} label {str(field.label)!r} not capitalised ({language})")
            static_choices = [] if isinstance(field, ModelChoiceField) else getattr(field, "choices", None) or []
            for value, label in static_choices:
                if value not in ("", None) and not isinstance(label, Promise | list | tuple):
                    plain.append(f"{name} choice {label!r}")
            if field.help_text and not isinstance(field.help_text, Promise) and field.help_text != DJANGO_SELECT_MANY:
                plain.append(f"{name} help_text {field.help_text!r}")
    assert not plain, f"{model._meta.label}: " + "; ".join(sorted(set(plain)))


@pytest.mark.django_db
def test_a_danish_admin_names_the_zone_of_booking_times_in_danish(admin_client_staff, staff, member):
    from tests.bookings.factories import BookingFactory, RoomFactory

    BookingFactory(room=RoomFactory(site=staff.site), organiser=member)
    response = admin_client_staff.get("/admin/bookings/booking/", HTTP_ACCEPT_LANGUAGE="da")
    html = response.content.decode()
    assert response.status_code == 200
    assert staff.site.timezone == "Europe/Copenhagen"
    assert "Slut (Copenhagen-tid)" in html
    assert "End (" not in html and "Europe/Copenhagen" not in html


def _constrained_models():
    from django.apps import apps

    models = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS and m._meta.constraints]
    return sorted(models, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", _constrained_models(), ids=lambda model: model._meta.label)
def test_every_constraint_message_renders_in_both_languages(model):
    """A constraint's message is what the admin (and full_clean) shows when a save breaks it. It is a %-format
    (``%(name)s``): a bare "100 %." raised "incomplete format" instead of the message, so a percent sign is "%%"."""
    for constraint in model._meta.constraints:
        with override("en"):
            english = constraint.get_violation_error_message()
        with override("da"):
            danish = constraint.get_violation_error_message()
        assert english and danish
        if constraint.violation_error_message != constraint.default_violation_error_message:
            assert isinstance(constraint.violation_error_message, Promise), constraint.name
            assert danish != english, f"{constraint.name}: no Danish for {english!r}"


def _models_with_choices():
    from django.apps import apps

    models = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS and any(f.choices for f in m._meta.fields)]
    return sorted(models, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", _models_with_choices(), ids=lambda model: model._meta.label)
def test_every_stored_choice_has_a_translatable_label(model):
    """What the admin's columns and filters show for a stored key (a booking's source, a decision's reason)."""
    plain = [
        f"{field.name}={value!r}: {label!r}"
        for field in model._meta.fields
        for value, label in field.flatchoices
        if not isinstance(label, Promise) and str(label) != str(value)  # a key shown as itself (QoS 1, "hvac")
    ]
    assert not plain, f"{model._meta.label}: {plain}"


def test_object_names_in_admin_titles_speak_the_admins_language():
    """An object's name (``__str__``) heads its change page, its breadcrumb and the delete confirmation: a Danish admin
    read "every role, all day", "(confirmed)" and "Booking policy of ..." among Danish words. Stored choices are
    named by their labels, fixed words are translated, and times are in the active zone (the staff's site's)."""
    import datetime as dt

    from django.utils import timezone

    from badges.models import AccessDecision, Door, DoorRule
    from bookings.models import Booking, BookingPolicy, Closure, Room
    from comfort.models import Command, Device
    from labs.models import Consent, OutboxMessage, Site

    site = Site(slug="cph", name="Copenhagen", timezone="Europe/Copenhagen")
    at = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # 09:00 in Copenhagen
    rule = DoorRule(door=Door(site=site, slug="main", name="Main"), roles=["employee", "mentor"])
    cases = [
        (DoorRule(door=Door(site=site, slug="main", name="Main"), roles=[]), "alle roller, hele dagen"),
        (rule, "Medarbejder, Mentor, hele dagen"),
        (BookingPolicy(site=site), "Bookingpolitik for Copenhagen"),
        (Closure(site=site, day=dt.date(2026, 12, 24)), "Copenhagen lukket 2026-12-24"),
        (Booking(room=Room(name="Fjord", capacity=6), start=at, end=at + dt.timedelta(hours=1)), "10:00 (Bekræftet)"),
        (
            AccessDecision(at=at, reader_ref="r1", allow=False, reason="revoked"),
            "09:00:00 r1 afvist Adgangskortet er tilbagekaldt",
        ),
        (OutboxMessage(topic="t"), "t (afventer)"),
        (Command(device=Device(device_id="cph-desk-1a-01"), version=3, state="applied"), "cph-desk-1a-01 v3 Udført"),
        (Consent(person_id=7, purpose="marketing", granted=False), "trukket tilbage"),
    ]
    with override("da"), timezone.override("Europe/Copenhagen"):
        for instance, expected in cases:
            assert expected in str(instance), (type(instance).__name__, str(instance))
    with override("en"):
        assert str(rule).endswith("Employee, Mentor, all day")


@pytest.mark.django_db
def test_a_command_is_named_by_its_device_and_a_bulk_delete_does_not_query_per_command(admin_client_staff, staff):
    """Its title read "62 v1 Udført" (the device's row id). Named by the device's id, the delete confirmation of many
    selected commands must not load each one's device: the changelist's queryset brings them (list_select_related)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from comfort import services
    from tests.comfort.factories import DeskFactory, DeviceFactory

    devices = [DeviceFactory(desk=DeskFactory(zone__floor__site=staff.site)) for _ in range(6)]
    commands = [services.device_desired_set(device=d, desired={"height_mm": 900}, reason={}) for d in devices]
    page = admin_client_staff.get(f"/admin/comfort/command/{commands[0].pk}/change/", HTTP_ACCEPT_LANGUAGE="da")
    assert f"<title>{devices[0].device_id} v1 I kø (i udbakken) |" in page.content.decode()

    def confirm(selected) -> tuple[int, str]:
        form = {"action": "delete_selected", "_selected_action": [c.pk for c in selected]}
        with CaptureQueriesContext(connection) as queries:
            response = admin_client_staff.post("/admin/comfort/command/", form, HTTP_ACCEPT_LANGUAGE="da")
        return len(queries), response.content.decode()

    few, _ = confirm(commands[:2])
    many, html = confirm(commands)
    assert "Er du sikker" in html  # the confirmation page, listing what would be deleted
    assert all(f"{d.device_id} v1" in html for d in devices)
    assert many == few, (few, many)
