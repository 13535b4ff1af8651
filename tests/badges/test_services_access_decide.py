"""The access decision: allow, every denial reason, replays, revocation on the next scan, presence, the audit row."""

from __future__ import annotations

import random
import string
from datetime import time, timedelta

import pytest

from badges import codes, services
from badges.choices import BadgeKind, BadgeStatus, Channel, CredentialType
from badges.models import AccessDecision, BadgeCodeUse
from bookings.choices import BookingStatus
from labs import services as labs_services
from labs.choices import Role
from tests.badges.conftest import MONDAY, decide, issue, local
from tests.badges.factories import DoorFactory, DoorRuleFactory, code_at, make_reader
from tests.bookings.factories import BookingFactory, DeskFactory
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_a_valid_code_opens_the_main_entrance(frozen, main_reader, member_badge):
    decision = decide(main_reader, code_at(member_badge, MONDAY))
    assert (decision.allow, decision.reason) == (True, "ok")
    assert decision.person_id == member_badge.person_id


def test_revoked_then_the_very_next_scan_is_denied(frozen, staff, main_reader, member_badge):
    assert decide(main_reader, code_at(member_badge, MONDAY)).allow
    services.badge_revoke(actor=staff, badge=member_badge)
    frozen.shift(30)
    decision = decide(main_reader, code_at(member_badge, MONDAY + timedelta(seconds=30)))
    assert (decision.allow, decision.reason) == (False, "revoked")


def test_a_replayed_code_is_denied_at_the_same_reader(frozen, main_reader, member_badge):
    code = code_at(member_badge, MONDAY)
    assert decide(main_reader, code).allow
    replay = decide(main_reader, code)
    assert (replay.allow, replay.reason) == (False, "replayed")
    frozen.shift(20)  # still the same step
    assert decide(main_reader, code).reason == "replayed"


def test_the_same_code_opens_another_reader_once(frozen, site, main_door, main_reader, member_badge):
    second, _key = make_reader(main_door, "cph-main-2")
    code = code_at(member_badge, MONDAY)
    assert decide(main_reader, code).allow
    assert decide(second, code).allow
    assert decide(second, code).reason == "replayed"


def test_the_next_step_gives_a_fresh_code_that_works(frozen, main_reader, member_badge):
    assert decide(main_reader, code_at(member_badge, MONDAY)).allow
    frozen.shift(30)
    assert decide(main_reader, code_at(member_badge, MONDAY + timedelta(seconds=30))).allow


def test_a_code_from_the_previous_step_is_accepted_just_after_the_step_changed(frozen, main_reader, member_badge):
    code = code_at(member_badge, MONDAY + timedelta(seconds=29))  # MONDAY 09:00:00 starts a step
    frozen.move_to(MONDAY + timedelta(seconds=33))  # the phone has not fetched its new code yet
    assert decide(main_reader, code).allow


def test_a_screenshot_of_the_previous_step_is_expired_once_the_grace_is_over(frozen, main_reader, member_badge):
    code = code_at(member_badge, MONDAY + timedelta(seconds=10))
    frozen.move_to(MONDAY + timedelta(seconds=36))  # 6 s into the next step: past the 5 s grace
    decision = decide(main_reader, code)
    assert (decision.allow, decision.reason) == (False, "expired")
    frozen.move_to(MONDAY + timedelta(seconds=60))
    assert decide(main_reader, code).reason == "expired"
    frozen.shift(3600)
    assert decide(main_reader, code).reason == "unknown"  # far too old to tell from a forgery


def test_the_grace_follows_the_setting(frozen, settings, main_reader, member_badge):
    settings.BADGE_CODE_GRACE_SECONDS = 0
    code = code_at(member_badge, MONDAY + timedelta(seconds=29))
    frozen.move_to(MONDAY + timedelta(seconds=30))
    assert decide(main_reader, code).reason == "expired"


def test_a_code_of_the_next_step_is_accepted_only_just_before_it(frozen, main_reader, member_badge):
    early = decide(main_reader, code_at(member_badge, MONDAY + timedelta(seconds=30)))
    assert (early.allow, early.reason) == (False, "unknown")  # 30 s ahead: no server's clock is that far off
    frozen.move_to(MONDAY + timedelta(seconds=27))
    assert decide(main_reader, code_at(member_badge, MONDAY + timedelta(seconds=30))).allow


def test_a_code_from_two_steps_ahead_is_denied(frozen, main_reader, member_badge):
    decision = decide(main_reader, code_at(member_badge, MONDAY + timedelta(seconds=60)))
    assert (decision.allow, decision.reason) == (False, "unknown")


def test_a_code_used_in_the_grace_is_still_refused_as_a_replay(frozen, main_reader, member_badge):
    code = code_at(member_badge, MONDAY + timedelta(seconds=29))
    assert decide(main_reader, code).allow
    frozen.move_to(MONDAY + timedelta(seconds=32))
    assert decide(main_reader, code).reason == "replayed"


def test_a_forged_mac_for_a_real_badge_is_unknown(frozen, main_reader, member_badge):
    decision = decide(main_reader, f"{member_badge.public_id}.{'a' * codes.MAC_LENGTH}")
    assert (decision.allow, decision.reason) == (False, "unknown")
    assert AccessDecision.objects.get(pk=decision.audit_id).badge_id == member_badge.pk


def _fuzzed_values(rng: random.Random, badge) -> list[str]:
    """Random strings, truncated/extended/mutated genuine codes, wrong secrets, wrong ids, other alphabets."""
    genuine = code_at(badge, MONDAY)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " é€\u200b\x7f"
    values = []
    for _ in range(1000):
        values.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))
    for cut in range(1, len(genuine)):
        values.append(genuine[:cut])
        values.append(genuine[cut:])
    for _ in range(1000):  # one character changed
        position = rng.randrange(len(genuine))
        replacement = rng.choice("abcdefghijklmnopqrstuvwxyz234567.")
        mutated = genuine[:position] + replacement + genuine[position + 1 :]
        if mutated != genuine:
            values.append(mutated)
    for _ in range(600):  # well-formed codes with a random mac, or a random public id
        mac = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(16))
        public_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(12))
        values.append(f"{badge.public_id}.{mac}")
        values.append(f"{public_id}.{genuine.split('.')[1]}")
    for _ in range(200):  # codes made with a guessed secret
        values.append(codes.code_for(badge.public_id, rng.randbytes(32), codes.step_at(MONDAY)))
    values += [genuine.upper(), genuine + "\n", " " + genuine, genuine.replace(".", ":"), genuine + genuine]
    return values


def test_thousands_of_fuzzed_forged_and_truncated_codes_are_all_denied_and_each_audited_once(
    frozen, main_reader, member_badge
):
    values = _fuzzed_values(random.Random(20260302), member_badge)
    assert len(values) > 3000
    before = AccessDecision.objects.count()
    reasons = set()
    for value in values:
        decision = decide(main_reader, value)
        assert not decision.allow, value
        reasons.add(decision.reason)
    assert reasons <= {"unknown", "expired"}
    assert AccessDecision.objects.count() - before == len(values)
    assert not BadgeCodeUse.objects.exists()
    assert decide(main_reader, code_at(member_badge, MONDAY)).allow  # the genuine code still works


def test_fuzzed_card_uids_are_all_denied(frozen, staff, member, main_reader):
    issue(staff, member, BadgeKind.CARD, card_uid="04:A1:B2:C3")
    rng = random.Random(7)
    for _ in range(1000):
        value = "".join(rng.choice("0123456789ABCDEFabcdef:- xyz") for _ in range(rng.randint(0, 40)))
        if codes.normalise_card_uid(value) == "04A1B2C3":
            continue
        decision = decide(main_reader, value, CredentialType.CARD)
        assert (decision.allow, decision.reason) == (False, "unknown"), value


def test_a_registered_card_opens_in_any_spelling_of_its_uid(frozen, staff, member, main_reader):
    issue(staff, member, BadgeKind.CARD, card_uid="04:A1:B2:C3")
    for spelling in ("04A1B2C3", "04-a1-b2-c3", "04 a1 b2 c3"):
        decision = decide(main_reader, spelling, CredentialType.CARD)
        assert (decision.allow, decision.reason) == (True, "ok")


def test_a_card_may_open_repeatedly(frozen, staff, member, main_reader):
    issue(staff, member, BadgeKind.CARD, card_uid="04A1B2C3")
    assert all(decide(main_reader, "04A1B2C3", CredentialType.CARD).allow for _ in range(3))


def test_a_revoked_card_is_refused_and_its_uid_can_be_registered_again(frozen, staff, member, colleague, main_reader):
    card = issue(staff, member, BadgeKind.CARD, card_uid="04A1B2C3")
    services.badge_revoke(actor=staff, badge=card)
    assert decide(main_reader, "04A1B2C3", CredentialType.CARD).reason == "revoked"
    issue(staff, colleague, BadgeKind.CARD, card_uid="04A1B2C3")
    decision = decide(main_reader, "04A1B2C3", CredentialType.CARD)
    assert decision.allow and decision.person_id == colleague.pk


def test_a_suspended_badge_is_denied_until_reinstated(frozen, staff, main_reader, member_badge):
    services.badge_suspend(actor=staff, badge=member_badge)
    assert decide(main_reader, code_at(member_badge, MONDAY)).reason == "suspended"
    services.badge_reinstate(actor=staff, badge=member_badge)
    assert decide(main_reader, code_at(member_badge, MONDAY)).allow


def test_an_expired_badge_is_denied(frozen, staff, member, main_reader):
    badge = issue(staff, member, valid_until=MONDAY + timedelta(hours=1))
    frozen.move_to(MONDAY + timedelta(hours=1))
    now = MONDAY + timedelta(hours=1)
    assert decide(main_reader, code_at(badge, now)).reason == "expired"
    services.badges_expire_due()
    badge.refresh_from_db()
    assert badge.status == BadgeStatus.EXPIRED


def test_a_badge_not_yet_valid_is_denied(frozen, member, main_reader):
    badge = services._new_badge(kind=BadgeKind.DIGITAL, person=member, valid_from=MONDAY + timedelta(minutes=5))
    assert decide(main_reader, code_at(badge, MONDAY)).reason == "not_yet_valid"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("deactivate", "account_disabled"),
        ("role", "role_changed"),
        ("membership", "membership_ended"),
    ],
)
def test_leaving_or_changing_role_revokes_at_once(frozen, staff, member, main_reader, member_badge, change, reason):
    if change == "deactivate":
        labs_services.person_deactivate(actor=staff, person=member)
    elif change == "role":
        labs_services.person_change_role(actor=staff, person=member, role=Role.MENTOR, company=None)
    else:
        labs_services.person_end_membership(actor=staff, person=member, ends_on=MONDAY.date())
    member_badge.refresh_from_db()
    assert (member_badge.status, member_badge.status_reason) == (BadgeStatus.REVOKED, reason)
    assert decide(main_reader, code_at(member_badge, MONDAY)).reason == "revoked"


def test_a_membership_ending_later_ends_access_on_that_day(frozen, staff, member, main_reader):
    labs_services.person_end_membership(actor=staff, person=member, ends_on=MONDAY.date() + timedelta(days=1))
    badge = issue(staff, member)
    assert badge.valid_until == local(2026, 3, 3)
    assert decide(main_reader, code_at(badge, MONDAY)).allow
    tuesday = local(2026, 3, 3, 8)
    frozen.move_to(tuesday)
    assert decide(main_reader, code_at(badge, tuesday)).reason == "expired"
    assert services.badges_revoke_ended_memberships() == 1


def test_a_role_a_door_does_not_admit_is_the_wrong_door(frozen, mentor, staff, lab_reader):
    badge = issue(staff, mentor)
    assert decide(lab_reader, code_at(badge, MONDAY)).reason == "wrong_door"


def test_outside_the_doors_local_hours_is_outside_hours(frozen, lab_reader, member_badge):
    assert decide(lab_reader, code_at(member_badge, MONDAY)).allow  # 09:00 Monday
    evening = local(2026, 3, 2, 19, 0)
    frozen.move_to(evening)
    assert decide(lab_reader, code_at(member_badge, evening)).reason == "outside_hours"
    saturday = local(2026, 3, 7, 10, 0)
    frozen.move_to(saturday)
    assert decide(lab_reader, code_at(member_badge, saturday)).reason == "outside_hours"


def test_hours_follow_the_sites_time_zone_across_daylight_saving(frozen, lab_reader, member_badge):
    # 29 March 2026: Copenhagen moves to UTC+2. 07:30 local is 05:30 UTC, inside 07:00-19:00 local.
    monday_after = local(2026, 3, 30, 7, 30)
    frozen.move_to(monday_after)
    assert decide(lab_reader, code_at(member_badge, monday_after)).allow
    early = local(2026, 3, 30, 6, 30)  # 04:30 UTC
    frozen.move_to(early)
    assert decide(lab_reader, code_at(member_badge, early)).reason == "outside_hours"


def test_a_window_past_midnight_belongs_to_the_day_it_opened(frozen, site, staff, member):
    door = DoorFactory(site=site, slug="night")
    DoorRuleFactory(door=door, weekdays=[5], opens_at=time(22), closes_at=time(2))  # Friday night
    reader, _ = make_reader(door, "night-reader")
    badge = issue(staff, member)
    for moment, allowed in [
        (local(2026, 3, 6, 23, 0), True),  # Friday 23:00
        (local(2026, 3, 7, 1, 30), True),  # Saturday 01:30, still Friday's window
        (local(2026, 3, 7, 2, 0), False),  # Saturday 02:00: closed
        (local(2026, 3, 7, 23, 0), False),  # Saturday 23:00: not a Friday
        (local(2026, 3, 6, 1, 0), False),  # Friday 01:00: Thursday's window, which does not exist
    ]:
        frozen.move_to(moment)
        assert decide(reader, code_at(badge, moment)).allow is allowed, moment


def test_a_rule_limited_to_companies_admits_only_their_people(
    frozen, site, company, main_door, staff, member, outsider
):
    door = DoorFactory(site=site, slug="acme-suite")
    DoorRuleFactory(door=door, companies=[company])
    reader, _ = make_reader(door, "acme-reader")
    assert decide(reader, code_at(issue(staff, member), MONDAY)).allow
    assert decide(reader, code_at(issue(staff, outsider), MONDAY)).reason == "wrong_door"


def test_an_inactive_door_and_a_door_without_rules_admit_no_one(frozen, site, staff, member, main_door, main_reader):
    badge = issue(staff, member)
    main_door.is_active = False
    main_door.save()
    assert decide(main_reader, code_at(badge, MONDAY)).reason == "wrong_door"
    bare = DoorFactory(site=site, slug="bare")
    reader, _ = make_reader(bare, "bare-reader")
    assert decide(reader, code_at(badge, MONDAY)).reason == "wrong_door"


def test_an_unknown_or_disabled_reader_is_denied_and_audited(frozen, main_reader, member_badge):
    decision = decide(None, code_at(member_badge, MONDAY))
    assert (decision.allow, decision.reason) == (False, "unknown_reader")
    main_reader.is_active = False
    main_reader.save()
    assert decide(main_reader, code_at(member_badge, MONDAY)).reason == "unknown_reader"
    rows = AccessDecision.objects.filter(reason="unknown_reader")
    assert rows.count() == 2 and {r.reader_ref for r in rows} == {"ghost", "cph-main"}


def test_every_decision_leaves_exactly_one_audit_row_with_who_where_when_and_why(frozen, main_reader, member_badge):
    cases = [code_at(member_badge, MONDAY), code_at(member_badge, MONDAY), "garbage", ""]
    for value in cases:
        before = AccessDecision.objects.count()
        decision = decide(main_reader, value, scan_id="r1-000001")
        assert AccessDecision.objects.count() == before + 1
        row = AccessDecision.objects.get(pk=decision.audit_id)
        assert (row.allow, row.reason) == (decision.allow, decision.reason)
        assert row.at == MONDAY and row.at.utcoffset() == timedelta(0)
        assert (row.reader_id, row.door_id, row.site_id) == (main_reader.pk, main_reader.door_id, main_reader.site_id)
        assert row.channel == Channel.HTTP and row.scan_id == "r1-000001"
    rows = list(AccessDecision.objects.order_by("id"))
    assert [r.reason for r in rows] == ["ok", "replayed", "unknown", "unknown"]
    assert rows[0].person_id == member_badge.person_id and rows[0].badge_id == member_badge.pk


def test_an_allowed_scan_checks_the_person_in_to_their_booking_at_the_site(
    frozen, site, member, main_reader, django_capture_on_commit_callbacks
):
    badge = services._new_badge(kind=BadgeKind.DIGITAL, person=member)
    desk = DeskFactory(site=site)
    booking = BookingFactory(
        room=None,
        desk=desk,
        site=site,
        organiser=member,
        start=MONDAY + timedelta(minutes=10),
        end=MONDAY.replace(hour=17),
    )
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(main_reader, code_at(badge, MONDAY))
    assert decision.allow
    booking.refresh_from_db()
    assert booking.checked_in_at == MONDAY and booking.status == BookingStatus.CHECKED_IN


def test_a_denied_scan_checks_no_one_in(frozen, site, staff, member, main_reader, django_capture_on_commit_callbacks):
    badge = issue(staff, member)
    services.badge_suspend(actor=staff, badge=badge)
    desk = DeskFactory(site=site)
    booking = BookingFactory(
        room=None, desk=desk, site=site, organiser=member, start=MONDAY, end=MONDAY.replace(hour=17)
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert not decide(main_reader, code_at(badge, MONDAY)).allow
    assert callbacks == []
    booking.refresh_from_db()
    assert booking.checked_in_at is None


def test_a_failing_booking_check_in_never_undoes_the_door_decision(
    frozen, main_reader, member_badge, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("bookings is down")

    monkeypatch.setattr("bookings.services.presence_check_in", broken)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(main_reader, code_at(member_badge, MONDAY))
    assert decision.allow
    assert AccessDecision.objects.get(pk=decision.audit_id).allow


def test_a_reader_at_another_site_refuses_nothing_the_rules_admit(frozen, staff, member, member_badge):
    # A person's badge works wherever a door's rules admit their role; the rules are per door.
    other_site = SiteFactory(slug="aar", name="Aarhus")
    door = DoorFactory(site=other_site, slug="aar-main")
    DoorRuleFactory(door=door, roles=[Role.MENTOR])
    reader, _ = make_reader(door, "aar-main")
    assert decide(reader, code_at(member_badge, MONDAY)).reason == "wrong_door"


def test_an_unknown_credential_type_is_not_a_decision(frozen, main_reader):
    with pytest.raises(Exception, match="credential type"):
        services.access_decide(reader=main_reader, reader_ref="x", credential_type="nfc", value="x", channel="http")
    assert not AccessDecision.objects.exists()
