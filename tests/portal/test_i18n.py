"""Danish and English: the language comes from the switcher's cookie or the browser; every wrapped string has Danish.

The catalogue test parses locale/da/LC_MESSAGES/django.po with polib; the extraction test runs makemessages into a
temporary directory and fails when the code wraps a string the committed .po does not have (run makemessages, then
translate it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from tests.sign_in import signed_in

PO = Path(settings.BASE_DIR) / "locale" / "da" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")
IGNORE = ["var", "tests", "bench", "docs", "scripts", ".venv", "node_modules", "locale"]


def _key(entry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


def test_every_danish_entry_is_translated_with_the_same_placeholders():
    po = polib.pofile(str(PO))
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        targets = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if not all(targets):
            problems.append(f"untranslated: {entry.msgid!r}")
            continue
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        for target in targets:
            if sorted(PLACEHOLDER.findall(target)) != wanted:
                problems.append(f"placeholders differ: {entry.msgid!r} -> {target!r}")
    assert not problems, "\n".join(problems)
    assert len(po) > 200


def test_compiled_catalogue_matches_the_po():
    po = {_key(e): (e.msgstr, e.msgstr_plural) for e in polib.pofile(str(PO)) if not e.obsolete}
    mo = {_key(e): (e.msgstr, e.msgstr_plural) for e in polib.mofile(str(MO)) if e.msgid}
    assert mo == po, "locale/da/LC_MESSAGES/django.mo is stale: run `python manage.py compilemessages -l da`"


def test_every_wrapped_string_is_in_the_danish_catalogue(tmp_path, monkeypatch):
    if shutil.which("xgettext") is None and os.environ.get("CI") != "true":
        pytest.skip("makemessages needs GNU gettext (apt-get install gettext); CI installs it")
    # makemessages writes into ./locale when it exists: extract from a copy of the sources, into a temporary catalogue.
    source, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(
        settings.BASE_DIR,
        source,
        symlinks=True,
        ignore=lambda folder, names: [n for n in names if n in IGNORE or n.startswith(".") or n == "__pycache__"],
    )
    monkeypatch.chdir(source)
    with override_settings(LOCALE_PATHS=[str(out)]):
        call_command("makemessages", locale=["da"], ignore_patterns=IGNORE, verbosity=0)
    fresh = {_key(e) for e in polib.pofile(str(out / "da" / "LC_MESSAGES" / "django.po")) if e.msgid}
    committed = {_key(e) for e in polib.pofile(str(PO)) if not e.obsolete}
    missing = sorted(fresh - committed)
    assert not missing, f"wrapped but not in locale/da/LC_MESSAGES/django.po (run makemessages): {missing}"


@pytest.mark.django_db
def test_the_browser_language_chooses_danish(site):
    page = Client(HTTP_ACCEPT_LANGUAGE="da,en;q=0.5").get("/sign-in/").content.decode()
    assert '<html lang="da"' in page
    assert "Brugernavn" in page and "Adgangskode" in page
    english = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/sign-in/").content.decode()
    assert '<html lang="en-gb"' in english and "Username" in english


@pytest.mark.django_db
def test_the_switcher_overrides_the_browser_and_needs_no_javascript(member):
    client = signed_in(Client(HTTP_ACCEPT_LANGUAGE="en"), member)
    response = client.post("/i18n/setlang/", {"language": "da", "next": "/badge/"})
    assert response.status_code == 302 and response["Location"] == "/badge/"
    page = client.get("/badge/").content.decode()
    assert "Mit adgangskort" in page and 'aria-pressed="true">Dansk' in page
    back = client.post("/i18n/setlang/", {"language": "en-gb"}, HTTP_REFERER="http://testserver/badge/?x=1")
    assert back["Location"] == "http://testserver/badge/?x=1"  # the switcher's form has no `next`: the page it was on
    assert "My badge" in client.get("/badge/").content.decode()


@pytest.mark.django_db
def test_the_switcher_refuses_to_send_people_elsewhere(member):
    client = signed_in(Client(), member)
    response = client.post("/i18n/setlang/", {"language": "da", "next": "https://evil.example/"})
    assert response.status_code == 302 and not response["Location"].startswith("https://evil")


@pytest.mark.django_db
def test_the_admin_speaks_danish(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "da"
    page = admin_client.get("/admin/").content.decode()
    assert "Administration" in page or "administration" in page
    assert "Adgangskort, besøgende og adgang" in page  # the badges app's own verbose_name, wrapped
    assert "Døre" in page and "Kiosker" in page and "Lokationer" in page  # and its models' names
    assert "Log ud" in page


@pytest.mark.django_db
def test_date_and_time_inputs_keep_iso_values_in_danish(member):
    client = signed_in(Client(HTTP_ACCEPT_LANGUAGE="da"), member)
    page = client.get("/visitors/").content.decode()
    start = re.search(r'<input type="datetime-local" name="start" value="([^"]*)"', page)
    assert start and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", start.group(1)), page[:300]


@pytest.mark.django_db
def test_sign_in_errors_in_danish(member):
    client = Client(HTTP_ACCEPT_LANGUAGE="da")
    page = client.post("/sign-in/", {"username": "member", "password": "wrong"}).content.decode()
    assert "Forkert brugernavn eller adgangskode." in page


def test_the_field_checks_every_entry_point_shares_speak_danish():
    """labs.validators refuses a second line or a year past 9998 in the portal's forms, the admin's and the API's
    alike: in a Danish request the reason is Danish, as Django's own messages beside it are."""
    from datetime import UTC, date, datetime

    from django.core.exceptions import ValidationError
    from django.utils.translation import override

    from labs.validators import validate_date_in_range, validate_datetime_in_range, validate_single_line

    cases = [
        (validate_single_line, "Team\nmøde", "Skriv én linje tekst uden kontroltegn (U+000A)."),
        (validate_date_in_range, date(1, 1, 1), "Angiv en dato mellem"),
        (validate_datetime_in_range, datetime(9999, 1, 1, tzinfo=UTC), "Angiv et tidspunkt mellem årene 2"),
    ]
    for validator, value, danish in cases:
        for language in ("da", "en"):
            with override(language):  # the message is rendered in the request's language, as a form or DRF does
                with pytest.raises(ValidationError) as refused:
                    validator(value)
                message = refused.value.messages[0]
            assert message.startswith(danish) == (language == "da"), (language, message)
