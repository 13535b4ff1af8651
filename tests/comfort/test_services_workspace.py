from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from comfort import services
from comfort.choices import CommandState, ZoneBasis
from comfort.models import Command, ZoneDecision
from labs.errors import Conflict
from labs.models import OutboxMessage
from tests.comfort.factories import DeskFactory, DeviceFactory, PreferenceFactory

# Check-in and check-out commit, and the occupancy event moves the desk after commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def prefs(member, colleague):
    PreferenceFactory(person=member, desk_sit_height_mm=1010, temperature_c=Decimal("21.0"), fan_speed_pct=60)
    PreferenceFactory(person=colleague, desk_sit_height_mm=700, temperature_c=Decimal("23.5"), fan_speed_pct=20)


def _by_kind(commands):
    return {c.device.kind: c for c in commands}


def test_check_in_sets_the_desk_to_my_height_and_the_zone_to_my_setpoint(member, desk, devices, prefs):
    result = services.workspace_check_in(person=member, desk=desk)

    commands = _by_kind(result.commands)
    assert commands["desk"].desired == {"height_mm": 1010}
    assert commands["hvac"].desired == {"setpoint_c": 21.0, "mode": "auto", "fan": "auto"}
    assert commands["fan"].desired == {"on": True, "speed_pct": 60}
    assert all(c.state == CommandState.QUEUED and c.acts_for == member for c in result.commands)
    assert commands["desk"].valid_until == result.booking.end
    assert commands["desk"].reason == {"type": "check_in", "id": result.booking.pk}


def test_check_in_writes_one_retained_qos1_outbox_row_per_command(member, desk, devices, prefs):
    result = services.workspace_check_in(person=member, desk=desk)

    rows = list(OutboxMessage.objects.order_by("id"))
    assert [r.topic for r in rows] == [c.device.topic("desired") for c in result.commands]
    assert all(r.qos == 1 and r.retain and r.sent_at is None for r in rows)
    assert rows[0].payload == result.commands[0].document()
    assert rows[0].payload["v"] == 1 and rows[0].payload["cmd_id"] == str(result.commands[0].cmd_id)


def test_nothing_is_written_or_published_for_a_rolled_back_check_in(member, desk, devices, prefs):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.workspace_check_in(person=member, desk=desk)
        raise RuntimeError("the request failed after the service")

    assert OutboxMessage.objects.count() == 0
    assert Command.objects.count() == 0


def test_checking_in_again_returns_the_same_commands_without_a_new_version(member, desk, devices, prefs):
    first = services.workspace_check_in(person=member, desk=desk)
    again = services.workspace_check_in(person=member, desk=desk)

    assert [c.pk for c in again.commands] == [c.pk for c in first.commands]
    assert OutboxMessage.objects.count() == 3


def test_the_zone_takes_the_median_of_everyone_checked_in(member, colleague, desk, other_desk, devices, prefs):
    services.workspace_check_in(person=member, desk=desk)
    result = services.workspace_check_in(person=colleague, desk=other_desk)

    hvac = _by_kind(result.commands)["hvac"]
    assert hvac.desired["setpoint_c"] == 22.5  # median of 21.0 and 23.5 is 22.25, rounded to the 0.5 step
    assert hvac.version == 2
    assert Command.objects.get(device=devices["hvac"], version=1).state == CommandState.SUPERSEDED
    decision = ZoneDecision.objects.first()
    assert decision.basis == ZoneBasis.OCCUPANTS
    assert [i["temperature_c"] for i in decision.reasons["inputs"]] == ["21.0", "23.5"]
    assert decision.reasons["median_c"] == "22.25"
    assert decision.reasons["trigger"]["type"] == "check_in"


def test_the_setpoint_is_clamped_to_the_zone_policy_band(member, desk, devices, zone):
    PreferenceFactory(person=member, temperature_c=Decimal("28.0"))

    result = services.workspace_check_in(person=member, desk=desk)

    assert _by_kind(result.commands)["hvac"].desired["setpoint_c"] == 24.0  # 22.0 policy + 2.0 band
    decision = ZoneDecision.objects.first()
    assert decision.reasons["clamped"] is True
    assert decision.reasons["rounded_c"] == "28.0"


def test_check_out_returns_desk_and_zone_to_their_defaults(member, desk, devices, prefs):
    services.workspace_check_in(person=member, desk=desk)

    result = services.workspace_check_out(person=member, desk=desk)

    commands = _by_kind(result.commands)
    assert commands["desk"].desired == {"height_mm": 740}
    assert commands["hvac"].desired["setpoint_c"] == 22.0
    assert commands["fan"].desired == {"on": False, "speed_pct": 0}
    assert commands["hvac"].reason["type"] == "zone_policy"
    assert ZoneDecision.objects.first().basis == ZoneBasis.POLICY


def test_check_out_leaves_the_zone_to_whoever_is_still_there(member, colleague, desk, other_desk, devices, prefs):
    services.workspace_check_in(person=member, desk=desk)
    services.workspace_check_in(person=colleague, desk=other_desk)

    result = services.workspace_check_out(person=member, desk=desk)

    assert _by_kind(result.commands)["hvac"].desired["setpoint_c"] == 23.5


def test_a_taken_desk_is_a_conflict_and_publishes_nothing(member, colleague, desk, devices):
    services.workspace_check_in(person=colleague, desk=desk)
    before = OutboxMessage.objects.count()

    with pytest.raises(Conflict):
        services.workspace_check_in(person=member, desk=desk)

    assert OutboxMessage.objects.count() == before


def test_a_desk_without_devices_still_checks_in(member, desk):
    result = services.workspace_check_in(person=member, desk=desk)

    assert result.booking.checked_in_at is not None
    assert result.commands == []


def test_changing_preferences_while_checked_in_applies_them_at_once(member, desk, devices, prefs):
    services.workspace_check_in(person=member, desk=desk)

    preference, commands = services.preference_update(person=member, data={"desk_sit_height_mm": 800})

    assert preference.desk_sit_height_mm == 800
    assert _by_kind(commands)["desk"].desired == {"height_mm": 800}
    assert _by_kind(commands)["desk"].version == 2


def test_check_in_with_expired_previous_command_makes_a_new_version(member, desk, devices, prefs):
    first = services.workspace_check_in(person=member, desk=desk)
    desk_command = _by_kind(first.commands)["desk"]
    Command.objects.filter(pk=desk_command.pk).update(state=CommandState.EXPIRED)

    again = services.workspace_check_in(person=member, desk=desk, at=timezone.now() + timedelta(minutes=1))

    assert _by_kind(again.commands)["desk"].version == 2


def test_checking_out_while_the_desk_still_moves_supersedes_its_open_command(member, desk, devices, prefs):
    """The desk frame is read with whether it has open commands, and only then are they superseded: a check-out
    before the check-in's command was acknowledged must still supersede it."""
    moving = _by_kind(services.workspace_check_in(person=member, desk=desk).commands)["desk"]
    assert moving.state == CommandState.QUEUED
    services.workspace_check_out(person=member, desk=desk)
    moving.refresh_from_db()
    assert moving.state == CommandState.SUPERSEDED
    latest = Command.objects.filter(device=devices["desk"]).latest("version")
    assert latest.version == moving.version + 1 and latest.state == CommandState.QUEUED


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_fan_out_commits_chunk_by_chunk_outside_a_transaction_and_once_inside_one(zone, monkeypatch, in_transaction):
    devices = [DeviceFactory(desk=DeskFactory(zone=zone)) for _ in range(5)]
    monkeypatch.setattr(services, "FAN_OUT_CHUNK", 2)
    commits = []
    real = services._desired_set_chunk
    monkeypatch.setattr(
        services,
        "_desired_set_chunk",
        lambda chunk, *a, **k: (transaction.on_commit(lambda: commits.append(len(chunk))), real(chunk, *a, **k))[1],
    )
    desired = [{"height_mm": 700 + n} for n in range(5)]
    if in_transaction:
        with transaction.atomic():
            commands = services.devices_desired_set_many(devices=devices, desired=desired, reason={"type": "t"})
    else:
        commands = services.devices_desired_set_many(devices=devices, desired=desired, reason={"type": "t"})

    assert commits == ([5] if in_transaction else [2, 2, 1])
    assert [c.device_id for c in commands] == [d.pk for d in devices]
    for device, command in zip(devices, commands, strict=True):
        device.refresh_from_db()
        assert (device.desired_version, device.desired) == (command.version, command.desired)
    assert [c.desired["height_mm"] for c in commands] == [700, 701, 702, 703, 704]
    assert OutboxMessage.objects.filter(topic__in=[d.topic("desired") for d in devices]).count() == 5


def test_the_setpoint_step_is_written_as_the_language_writes_numbers():
    """'Use steps of 0.5 °C.' in English; a Danish page wrote '0.5' beside its own help text's '0,5'."""
    from decimal import Decimal

    from django.core.exceptions import ValidationError
    from django.utils.translation import override

    from comfort.models import validate_setpoint_step

    for language, expected in (("da", "Brug trin på 0,5 °C."), ("en", "Use steps of 0.5 °C.")):
        with override(language), pytest.raises(ValidationError) as refused:
            validate_setpoint_step(Decimal("21.3"))
        assert refused.value.messages == [expected]
