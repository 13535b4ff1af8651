"""The bridge's handlers, called as plain functions with no broker (the bridge only feeds them)."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from comfort import handlers, services
from comfort.choices import CommandState
from comfort.models import Command
from labs import mqtt_router
from labs.models import OutboxMessage


@pytest.fixture
def command(devices):
    return services.device_desired_set(
        device=devices["desk"], desired={"height_mm": 1000}, reason={"type": "test"}, acts_for=None
    )


def _topic(device, leaf):
    return device.topic(leaf)


def _ack(command, code, **extra):
    return {"cmd_id": str(command.cmd_id), "av": command.version, "ac": code, "ad": "x", **extra}


def _state(command):
    command.refresh_from_db()
    return command.state


def test_the_apps_handlers_are_registered_with_the_router():
    subscriptions = mqtt_router.subscriptions()
    for leaf in ("ack", "reported", "status", "telemetry"):
        assert f"labs/v1/+/+/+/{leaf}" in subscriptions


def test_a_progress_ack_moves_the_command_to_in_progress_with_a_deadline(command):
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 202, progress=0.25, eta_s=8))

    command.refresh_from_db()
    assert command.state == CommandState.IN_PROGRESS
    assert command.progress == 0.25
    assert command.delivered_at and command.in_progress_at and command.sent_at
    assert command.deadline_at > timezone.now() + timedelta(seconds=8)
    command.device.refresh_from_db()
    assert command.device.online


def test_an_applied_ack_completes_the_command_with_the_reported_state(command):
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 202, progress=0.1, eta_s=5))
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 200, reported={"height_mm": 999}))

    command.refresh_from_db()
    assert command.state == CommandState.APPLIED
    assert command.applied_at >= command.in_progress_at >= command.delivered_at
    assert command.result_reported == {"height_mm": 999}


@pytest.mark.parametrize(
    "code,state",
    [
        (400, CommandState.REJECTED),
        (422, CommandState.REJECTED),
        (409, CommandState.SUPERSEDED),
        (410, CommandState.EXPIRED),
        (500, CommandState.FAILED),
    ],
)
def test_error_acks_end_the_command(command, code, state):
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, code))

    assert _state(command) == state


def test_an_ack_never_reopens_a_final_command(command):
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 200))
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 202, progress=0.5, eta_s=1))

    assert _state(command) == CommandState.APPLIED


def test_an_ack_from_another_device_or_site_is_ignored(command, hvac):
    handlers.handle_ack(_topic(hvac, "ack"), _ack(command, 200))
    handlers.handle_ack(command.device.topic("ack").replace("/cph/", "/osl/"), _ack(command, 200))

    assert _state(command) == CommandState.QUEUED


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"cmd_id": "not-a-uuid", "av": 1, "ac": 200},
        {"cmd_id": "x", "av": "1", "ac": 200},
        {"cmd_id": "x", "av": 1, "ac": 999},
        {"cmd_id": "x", "av": True, "ac": 200},
    ],
)
def test_malformed_acks_are_dropped_without_raising(command, payload):
    assert handlers.handle_ack(_topic(command.device, "ack"), payload) == []
    assert _state(command) == CommandState.QUEUED


def test_the_router_delivers_raw_bytes_to_the_handler(command):
    raw = json.dumps(_ack(command, 200)).encode()

    assert mqtt_router.dispatch(_topic(command.device, "ack"), raw) == []
    assert _state(command) == CommandState.APPLIED


def test_a_report_settles_a_command_whose_ack_was_lost(command):
    newer = services.device_desired_set(device=command.device, desired={"height_mm": 900}, reason={"type": "test"})

    handlers.handle_reported(_topic(command.device, "reported"), {"v_applied": 2, "height_mm": 900, "moving": False})

    assert _state(newer) == CommandState.APPLIED
    assert _state(command) == CommandState.SUPERSEDED
    newer.device.refresh_from_db()
    assert newer.device.reported == {"height_mm": 900, "moving": False}
    assert newer.device.reported_version == 2


def test_a_report_while_moving_does_not_complete_the_command(command):
    handlers.handle_reported(_topic(command.device, "reported"), {"v_applied": 1, "height_mm": 800, "moving": True})

    assert _state(command) == CommandState.QUEUED


def test_status_marks_a_device_online_and_offline(devices):
    device = devices["fan"]
    handlers.handle_status(device.topic("status"), {"status": "online"})
    device.refresh_from_db()
    assert device.online and device.last_seen_at

    handlers.handle_status(device.topic("status"), {"status": "offline"})
    device.refresh_from_db()
    assert not device.online


def test_a_bad_status_is_dropped(devices):
    handlers.handle_status(devices["fan"].topic("status"), {"status": "sleeping"})
    devices["fan"].refresh_from_db()
    assert devices["fan"].last_seen_at is None


def test_telemetry_is_stored_on_the_device(devices):
    handlers.handle_telemetry(devices["hvac"].topic("telemetry"), {"current_temp_c": 23.1, "action": "cooling"})

    devices["hvac"].refresh_from_db()
    assert devices["hvac"].telemetry["current_temp_c"] == 23.1


def test_the_outbox_sent_hook_moves_queued_commands_to_sent(command):
    rows = list(OutboxMessage.objects.all())

    handlers.on_desired_sent(rows, timezone.now())

    command.refresh_from_db()
    assert command.state == CommandState.SENT
    assert command.attempts == 1
    assert command.deadline_at is not None


# --- the periodic sweep ------------------------------------------------------------------------------------------


def _sent(command, at=None):
    services.commands_mark_sent(cmd_ids=[str(command.cmd_id)], at=at or timezone.now())


def test_an_online_device_that_does_not_answer_gets_the_command_again_then_it_times_out(command):
    device = command.device
    handlers.handle_status(device.topic("status"), {"status": "online"})
    _sent(command)
    now = timezone.now()

    with time_machine.travel(now + timedelta(seconds=11), tick=False):
        assert services.commands_sweep()["retried"] == 1
    retry = OutboxMessage.objects.order_by("-id").first()
    assert retry.payload == command.document() and retry.retain
    _sent(command, at=now + timedelta(seconds=11))
    with time_machine.travel(now + timedelta(seconds=40), tick=False):
        assert services.commands_sweep()["retried"] == 1
    _sent(command, at=now + timedelta(seconds=40))
    with time_machine.travel(now + timedelta(seconds=120), tick=False):
        assert services.commands_sweep() == {"expired": 0, "retried": 0, "timed_out": 1}
    command.refresh_from_db()
    assert command.state == CommandState.TIMED_OUT
    assert command.attempts == 3


def test_the_sweep_is_idempotent(command):
    handlers.handle_status(command.device.topic("status"), {"status": "online"})
    _sent(command)
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        first = services.commands_sweep()
        second = services.commands_sweep()
    assert first["retried"] == 1
    assert second == {"expired": 0, "retried": 0, "timed_out": 0}


def test_an_offline_device_is_not_timed_out_and_completes_when_it_returns(command):
    device = command.device
    handlers.handle_status(device.topic("status"), {"status": "offline"})
    _sent(command)

    with time_machine.travel(timezone.now() + timedelta(minutes=30), tick=False):
        assert services.commands_sweep() == {"expired": 0, "retried": 0, "timed_out": 0}
        handlers.handle_status(device.topic("status"), {"status": "online"})
        handlers.handle_ack(device.topic("ack"), _ack(command, 200))
    assert _state(command) == CommandState.APPLIED


def test_a_command_past_valid_until_expires(devices):
    command = services.device_desired_set(
        device=devices["fan"],
        desired={"on": True, "speed_pct": 10},
        reason={"type": "test"},
        valid_until=timezone.now() + timedelta(minutes=5),
    )

    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert services.commands_sweep()["expired"] == 1
    command.refresh_from_db()
    assert command.state == CommandState.EXPIRED and command.expired_at


def test_a_late_applied_ack_turns_a_timed_out_command_into_applied(command):
    Command.objects.filter(pk=command.pk).update(state=CommandState.TIMED_OUT)

    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 200))

    assert _state(command) == CommandState.APPLIED


def test_a_newer_version_supersedes_older_unfinished_ones(command):
    handlers.handle_ack(_topic(command.device, "ack"), _ack(command, 202, progress=0.1, eta_s=9))

    newer = services.device_desired_set(device=command.device, desired={"height_mm": 650}, reason={"type": "t"})

    assert _state(command) == CommandState.SUPERSEDED
    assert newer.version == 2 and newer.state == CommandState.QUEUED


def test_history_older_than_its_retention_is_purged_but_the_latest_command_is_kept(command):
    newer = services.device_desired_set(device=command.device, desired={"height_mm": 650}, reason={"type": "t"})

    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        result = services.comfort_history_purge()

    assert result["commands"] == 1
    assert list(Command.objects.values_list("pk", flat=True)) == [newer.pk]


def test_the_periodic_jobs_are_registered_with_celery_beat(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["comfort-commands-sweep"]["task"] == "comfort.tasks.commands_sweep"
    assert schedule["labs-retention-purge"]["task"] == "labs.tasks.retention_purge"
    from labs import rights

    assert {"comfort.history", "labs.sign_in_and_outbox_and_sessions"} <= dict(rights.purges()).keys()


def test_the_sweep_task_runs_the_service(command):
    from comfort import tasks

    handlers.handle_status(command.device.topic("status"), {"status": "online"})
    _sent(command)
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        assert tasks.commands_sweep.delay().get()["retried"] == 1
