"""The record of processing (GDPR Art. 30) is generated from the declarations and covers every row of the policy."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from labs import privacy

POLICY = Path(settings.BASE_DIR) / "docs" / "policy" / "PRIVACY.md"
BASES = {
    "contract": privacy.LegalBasis.CONTRACT,
    "legitimate interest": privacy.LegalBasis.LEGITIMATE_INTEREST,
    "legal obligation": privacy.LegalBasis.LEGAL_OBLIGATION,
    "consent": privacy.LegalBasis.CONSENT,
}


def policy_rows() -> list[dict]:
    """The rows of the policy's "What is used, per role, and why" table."""
    text = POLICY.read_text()
    table = text.split("## What is used, per role, and why", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        category, roles, purpose, basis = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append({"category": category, "roles": roles, "purpose": purpose, "basis": basis})
    return rows


def test_the_policy_table_is_read():
    rows = policy_rows()
    assert len(rows) == 8
    assert rows[3]["category"] == "payment details, where relevant"


@pytest.mark.parametrize("row", policy_rows(), ids=lambda row: row["category"][:30])
def test_every_row_of_the_policy_has_an_entry_with_fields(row):
    category = privacy.POLICY_ROWS.get(row["category"])
    assert category is not None, f"the policy row {row['category']!r} has no category in labs.privacy.POLICY_ROWS"
    entry = next(e for e in privacy.register() if e["category"] == category.value)
    assert entry["fields"], f"no field declares {category.label}"
    assert entry["policy_row"] == row["category"]
    named = {re.sub(r"\s*\(.*\)", "", b).strip() for b in row["basis"].split("/")}
    allowed = {BASES[b] for b in named if b in BASES}
    assert set(entry["legal_basis"]) <= {b.value for b in allowed}, (entry["legal_basis"], row["basis"])
    assert entry["purpose"] and entry["retention"] and entry["roles"]


def test_a_policy_row_without_an_entry_fails(monkeypatch):
    """The check above can fail: with the payment declarations gone, its entry has no field."""
    saved = privacy._REGISTRY.pop("payments.Payment")
    try:
        entry = next(e for e in privacy.register() if e["category"] == "payment")
        assert entry["fields"] == []
    finally:
        privacy._REGISTRY["payments.Payment"] = saved


def test_payment_and_events_are_declared_as_planned():
    entries = {e["category"]: e for e in privacy.register()}
    assert "payments.Payment.card_last4" in entries["payment"]["fields"]
    assert any(p.startswith("events.Attendance.person") for p in entries["other"]["planned"])
    assert privacy.is_planned("payments.Payment") and not privacy.is_planned("labs.Person")


def test_the_api_answers_one_entry_per_category(staff_client, member_client):
    assert member_client.get(reverse("labs-api:privacy-register")).status_code == 403
    body = staff_client.get(reverse("labs-api:privacy-register")).json()
    by_category = {e["category"]: e for e in body["results"]}
    assert set(by_category) == set(privacy.Category.values)
    visitor = by_category["visitor_identity"]
    assert visitor["roles"] == ["visitor"]
    assert "badges.Visit.email" in visitor["fields"]
    assert set(visitor) >= {"category", "roles", "purpose", "legal_basis", "retention", "fields"}


def test_the_admin_page_and_its_downloads(admin_client):
    page = admin_client.get(reverse("admin:privacy-register"))
    assert page.status_code == 200
    assert b"Payment details" in page.content
    markdown = admin_client.get(reverse("admin:privacy-register") + "?format=md")
    assert markdown["Content-Disposition"].endswith('.md"')
    assert "## Office preferences" in markdown.content.decode()
    rows = list(
        csv.DictReader(
            io.StringIO(admin_client.get(reverse("admin:privacy-register") + "?format=csv").content.decode())
        )
    )
    assert {"field": "auth.User.email"}.items() <= next(r for r in rows if r["field"] == "auth.User.email").items()
    assert len(rows) == len(privacy.register_fields())


def test_the_admin_page_is_for_staff_only(client, member):
    client.force_login(member.user)
    assert client.get(reverse("admin:privacy-register")).status_code == 302
