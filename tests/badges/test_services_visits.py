"""Visitors: registration rules, the badge window, check-in (reception or first scan), check-out, emails, purge."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.core import mail

from badges import services
from badges.choices import BadgeStatus, CredentialType
from badges.models import AccessDecision, Badge, Visit
from labs.choices import Role
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from tests.badges.conftest import MONDAY, decide
from tests.badges.factories import DoorFactory, DoorRuleFactory, code_at, make_reader
from tests.factories import PersonFactory, SiteFactory

pytestmark = pytest.mark.django_db

START = MONDAY + timedelta(hours=2)  # 11:00 Copenhagen
END = START + timedelta(hours=3)


def register(host, site, start=START, end=END, **extra):
    return services.visit_create(
        host=host, site=site, name="Vera Visitor", email="vera@guests.example", start=start, end=end, **extra
    )


def visit_badge(visit) -> Badge:
    return visit.badges.get(kind="digital")


def test_a_host_registers_a_visitor_with_a_badge_valid_30_minutes_before_to_the_end(frozen, member, site):
    visit = register(member, site)
    badge = visit_badge(visit)
    assert badge.valid_from == START - timedelta(minutes=30) and badge.valid_until == END
    assert badge.person_id is None and badge.kind == "digital" and badge.status == BadgeStatus.ACTIVE


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MENTOR, Role.STAFF, Role.BUSINESS_MEMBER])
def test_members_employees_mentors_and_staff_may_host(frozen, site, role):
    host = PersonFactory(role=role, site=site)
    assert register(host, site).host_id == host.pk


def test_a_visitor_role_may_not_host(frozen, site):
    guest = PersonFactory(role=Role.VISITOR, site=site, company=None)
    with pytest.raises(Forbidden):
        register(guest, site)


def test_an_open_ended_visit_is_refused(frozen, member, site):
    with pytest.raises(Invalid, match="needs an end"):
        register(member, site, end=None)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (START, START + timedelta(hours=24, seconds=1), "at most 24 hours"),
        (START, START, "ends after it starts"),
        (START, START - timedelta(minutes=1), "ends after it starts"),
        (MONDAY - timedelta(hours=5), MONDAY - timedelta(hours=1), "already over"),
        (MONDAY + timedelta(days=400), MONDAY + timedelta(days=400, hours=1), "a year ahead"),
    ],
)
def test_it_refuses_bad_windows(frozen, member, site, start, end, message):
    with pytest.raises(Invalid, match=message):
        register(member, site, start=start, end=end)
    assert not Visit.objects.exists()


def test_a_visit_of_exactly_24_hours_is_fine(frozen, member, site):
    assert register(member, site, end=START + timedelta(hours=24))


def test_the_visitor_gets_their_badge_link_by_email(frozen, member, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        visit = register(member, site)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["vera@guests.example"]
    assert "/visitor-badge/" in message.body and "11:00" in message.body
    visit.refresh_from_db()
    assert visit.visitor_notified_at is not None
    assert services.visit_badge_send(visit_id=visit.pk) is False  # once
    assert len(mail.outbox) == 1


def test_a_visitor_31_minutes_early_is_denied_and_29_minutes_early_is_let_in(frozen, member, site, main_reader):
    badge = visit_badge(register(member, site))
    early = START - timedelta(minutes=31)
    frozen.move_to(early)
    assert decide(main_reader, code_at(badge, early)).reason == "not_yet_valid"
    in_time = START - timedelta(minutes=29)
    frozen.move_to(in_time)
    assert decide(main_reader, code_at(badge, in_time)).allow


def test_a_visitor_one_second_after_the_end_is_denied(frozen, member, site, main_reader):
    badge = visit_badge(register(member, site))
    last = END - timedelta(seconds=1)
    frozen.move_to(last)
    assert decide(main_reader, code_at(badge, last)).allow
    after = END + timedelta(seconds=1)
    frozen.move_to(after)
    assert decide(main_reader, code_at(badge, after)).reason == "expired"


def test_the_first_allowed_scan_checks_the_visitor_in_and_emails_the_host_once(
    frozen, member, site, main_reader, django_capture_on_commit_callbacks
):
    visit = register(member, site)
    badge = visit_badge(visit)
    frozen.move_to(START)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert decide(main_reader, code_at(badge, START)).allow
    visit.refresh_from_db()
    assert visit.checked_in_at == START and visit.checked_in_by is None
    assert [m.to for m in mail.outbox] == [[member.user.email]]
    assert "Vera Visitor has arrived" in mail.outbox[0].subject
    later = START + timedelta(minutes=1)
    frozen.move_to(later)
    with django_capture_on_commit_callbacks(execute=True):
        assert decide(main_reader, code_at(badge, later)).allow
    assert len(mail.outbox) == 1


def test_a_denied_visitor_scan_does_not_check_them_in(frozen, member, site, main_reader):
    visit = register(member, site)
    assert decide(main_reader, code_at(visit_badge(visit), MONDAY)).reason == "not_yet_valid"
    visit.refresh_from_db()
    assert visit.checked_in_at is None


def test_after_check_out_the_badge_is_denied_at_once(frozen, member, site, main_reader):
    visit = register(member, site)
    badge = visit_badge(visit)
    frozen.move_to(START)
    assert decide(main_reader, code_at(badge, START)).allow
    services.visit_check_out(actor=member, visit=visit)
    soon = START + timedelta(seconds=30)
    frozen.move_to(soon)
    assert decide(main_reader, code_at(badge, soon)).reason == "expired"
    visit.refresh_from_db()
    badge.refresh_from_db()
    assert visit.checked_out_at == START and visit.ended_at == START
    assert badge.status == BadgeStatus.EXPIRED and badge.valid_until == START


def test_a_cancelled_visit_is_revoked(frozen, member, site, main_reader):
    visit = register(member, site)
    services.visit_cancel(actor=member, visit=visit)
    frozen.move_to(START)
    assert decide(main_reader, code_at(visit_badge(visit), START)).reason == "revoked"
    visit.refresh_from_db()
    assert visit.cancelled_at == MONDAY and visit.ended_at == MONDAY


def test_a_visitor_badge_opens_only_doors_that_allow_visitors(frozen, member, site, lab_reader):
    badge = visit_badge(register(member, site))
    frozen.move_to(START)
    assert decide(lab_reader, code_at(badge, START)).reason == "wrong_door"


def test_a_visitor_badge_opens_only_at_the_visits_site(frozen, member, site):
    other = SiteFactory(slug="aar")
    door = DoorFactory(site=other, allows_visitors=True)
    DoorRuleFactory(door=door)
    reader, _ = make_reader(door, "aar-main")
    badge = visit_badge(register(member, site))
    frozen.move_to(START)
    assert decide(reader, code_at(badge, START)).reason == "wrong_door"


def test_a_visitor_may_get_a_card_at_reception_for_the_same_window(frozen, staff, member, site, main_reader):
    visit = register(member, site)
    card = services.visit_card_issue(actor=staff, visit=visit, card_uid="04:11:22:33")
    assert (card.valid_from, card.valid_until) == (START - timedelta(minutes=30), END)
    frozen.move_to(START)
    assert decide(main_reader, "04112233", CredentialType.CARD).allow
    services.visit_check_out(actor=staff, visit=visit)
    assert decide(main_reader, "04112233", CredentialType.CARD).reason == "expired"


def test_reception_checks_a_visitor_in_and_the_host_is_emailed(
    frozen, staff, member, site, django_capture_on_commit_callbacks
):
    visit = register(member, site)
    frozen.move_to(START - timedelta(minutes=10))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.visit_check_in(actor=staff, visit=visit)
        services.visit_check_in(actor=staff, visit=visit)  # idempotent
    visit.refresh_from_db()
    assert visit.checked_in_by_id == staff.pk
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [member.user.email]


def test_reception_cannot_check_in_a_visit_of_another_day(frozen, staff, member, site):
    visit = register(member, site, start=START + timedelta(days=1), end=END + timedelta(days=1))
    with pytest.raises(Conflict):
        services.visit_check_in(actor=staff, visit=visit)


def test_only_reception_of_the_site_checks_visitors_in(frozen, member, colleague, outsider, site):
    visit = register(member, site)
    frozen.move_to(START)
    with pytest.raises(Forbidden):
        services.visit_check_in(actor=member, visit=visit)
    for other in (colleague, outsider):
        with pytest.raises(NotFound):
            services.visit_check_in(actor=other, visit=visit)
    other_staff = PersonFactory(role=Role.STAFF, site=SiteFactory(slug="aar"), company=None)
    with pytest.raises(NotFound):
        services.visit_check_in(actor=other_staff, visit=visit)


def test_only_the_host_or_site_staff_check_out_or_cancel(frozen, staff, member, colleague, outsider, site):
    visit = register(member, site)
    for other in (colleague, outsider):
        with pytest.raises(NotFound):
            services.visit_check_out(actor=other, visit=visit)
        with pytest.raises(NotFound):
            services.visit_cancel(actor=other, visit=visit)
    Visit.objects.filter(pk=visit.pk).update(checked_in_at=MONDAY)  # arrived (a scan), so there is a departure
    visit.refresh_from_db()
    assert services.visit_check_out(actor=staff, visit=visit).checked_out_at == MONDAY


def test_a_visitor_who_never_arrived_cannot_be_checked_out_only_cancelled(frozen, staff, member, site):
    visit = register(member, site)
    for actor in (member, staff):
        with pytest.raises(Conflict) as refused:
            services.visit_check_out(actor=actor, visit=visit)
        assert refused.value.code == "not_arrived" and refused.value.status_code == 409
    visit.refresh_from_db()
    assert visit.checked_out_at is None and visit.ended_at is None
    assert services.visit_cancel(actor=member, visit=visit).cancelled_at is not None


def test_a_host_who_leaves_takes_their_upcoming_visits_with_them(frozen, staff, member, site, main_reader):
    from labs import services as labs_services

    visit = register(member, site)
    labs_services.person_deactivate(actor=staff, person=member)
    visit.refresh_from_db()
    assert visit.cancelled_at is not None
    frozen.move_to(START)
    assert decide(main_reader, code_at(visit_badge(visit), START)).reason == "revoked"


def test_missed_notifications_are_sent_by_the_sweep(frozen, member, site):
    visit = register(member, site)  # no on_commit run: as if the broker was down
    assert mail.outbox == []
    frozen.move_to(MONDAY + timedelta(minutes=2))
    assert services.visits_notify_pending() == 1
    assert mail.outbox[0].to == ["vera@guests.example"]
    Visit.objects.filter(pk=visit.pk).update(checked_in_at=MONDAY + timedelta(seconds=30))
    assert services.visits_notify_pending() == 1
    assert mail.outbox[1].to == [member.user.email]
    assert services.visits_notify_pending() == 0


def test_visits_are_purged_30_days_after_they_ended_and_the_audit_log_keeps_only_ids(frozen, member, site, main_reader):
    visit = register(member, site)
    badge = visit_badge(visit)
    frozen.move_to(START)
    decision = decide(main_reader, code_at(badge, START))
    services.visit_check_out(actor=member, visit=visit)
    ended = START.astimezone(UTC)  # exact days in UTC: 30 days later is past a DST change in Copenhagen
    frozen.move_to(ended + timedelta(days=30) - timedelta(minutes=1))
    assert services.visits_purge() == 0
    frozen.move_to(ended + timedelta(days=30, minutes=1))
    assert services.visits_purge() == 1
    assert not Visit.objects.exists() and not Badge.objects.filter(pk=badge.pk).exists()
    row = AccessDecision.objects.get(pk=decision.audit_id)
    assert row.visit_id == visit.pk and row.badge_id == badge.pk  # ids only; no name or email in the log
