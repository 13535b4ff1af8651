"""The bridge's batches (labs.mqtt_router.dispatch_batch): coalescing, per-device order, one bad message costs only
itself, and the device locks every batch takes first, in primary-key order."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comfort import services
from comfort.choices import CommandState
from comfort.models import Command, Device
from labs import mqtt_router

C1, C2 = "6f1c0000-0000-4000-8000-000000000001", "6f1c0000-0000-4000-8000-000000000002"


def _raw(payload: dict) -> bytes:
    return json.dumps(payload).encode()


@pytest.fixture
def recorded(db, monkeypatch):
    """Fake routes that record what they are given, with comfort's options: reported coalesces, ack does not."""
    monkeypatch.setattr(mqtt_router, "_routes", [])
    monkeypatch.setattr(mqtt_router, "_options", {})
    monkeypatch.setattr(mqtt_router, "_lock_hooks", [])
    monkeypatch.setattr(mqtt_router, "_batch_handlers", {})
    seen = []
    mqtt_router.register("labs/v1/+/+/+/ack", lambda t, p: seen.append((t, p["av"])))
    mqtt_router.register("labs/v1/+/+/+/reported", lambda t, p: seen.append((t, p["v_applied"])), coalesce=True)
    return seen


def test_a_batch_coalesces_reports_of_a_device_and_keeps_each_devices_order(recorded):
    a, b = "labs/v1/cph/desk/a", "labs/v1/cph/desk/b"
    batch = [
        (f"{a}/reported", _raw({"v_applied": 1})),
        (f"{a}/ack", _raw({"cmd_id": C1, "av": 2, "ac": 202})),
        (f"{b}/reported", _raw({"v_applied": 7})),
        (f"{a}/reported", _raw({"v_applied": 2, "moving": True})),
        (f"{a}/ack", _raw({"cmd_id": C1, "av": 2, "ac": 200})),
        (f"{a}/reported", _raw({"v_applied": 3})),
        (f"{b}/ack", _raw({"cmd_id": C2, "av": 8, "ac": 200})),
    ]
    result = mqtt_router.dispatch_batch(batch)

    # a's reports: only the last (v3), in its own place after both acks; every ack kept, in order
    assert [(t, v) for t, v in recorded if t.startswith(a)] == [(f"{a}/ack", 2), (f"{a}/ack", 2), (f"{a}/reported", 3)]
    assert [(t, v) for t, v in recorded if t.startswith(b)] == [(f"{b}/reported", 7), (f"{b}/ack", 8)]
    assert (result.handled, result.coalesced, result.dropped, result.fell_back) == (5, 2, 0, False)


def test_an_invalid_or_failing_message_does_not_lose_the_rest_of_its_batch(devices, monkeypatch):
    desk, hvac, fan = devices["desk"], devices["hvac"], devices["fan"]
    command = services.device_desired_set(device=desk, desired={"height_mm": 1000}, reason={"type": "t"}, acts_for=None)
    original = mqtt_router._routes[:]

    def boom(topic, payload):
        if "/fan/" in topic:
            raise RuntimeError("a bug in one handler")

    monkeypatch.setattr(mqtt_router, "_routes", [*original, ("labs/v1/+/+/+/status", boom)])
    batch = [
        (desk.topic("status"), _raw({"status": "online"})),
        (desk.topic("ack"), b'{"cmd_id": NaN}'),  # fails the checks: dropped, counted
        (fan.topic("status"), _raw({"status": "online"})),  # its handler raises
        (desk.topic("ack"), _raw({"cmd_id": str(command.cmd_id), "av": command.version, "ac": 200, "ad": "ok"})),
        (hvac.topic("telemetry"), _raw({"current_temp_c": 22.5, "ts": "2026-11-30T09:00:00Z"})),
    ]
    result = mqtt_router.dispatch_batch(batch)

    assert result.dropped == 1
    assert result.fell_back is True  # the batch went back to one transaction per message
    command.refresh_from_db()
    assert command.state == CommandState.APPLIED
    desk.refresh_from_db()
    hvac.refresh_from_db()
    assert desk.online is True
    assert hvac.telemetry["current_temp_c"] == 22.5


def test_a_batch_locks_its_devices_once_in_primary_key_order_before_writing(devices):
    desk, hvac, fan = devices["desk"], devices["hvac"], devices["fan"]
    batch = [
        (fan.topic("status"), _raw({"status": "online"})),
        (desk.topic("status"), _raw({"status": "online"})),
        (hvac.topic("status"), _raw({"status": "offline"})),
    ]
    with CaptureQueriesContext(connection) as queries:
        result = mqtt_router.dispatch_batch(batch)
    assert result.handled == 3 and not result.fell_back
    statements = [q["sql"] for q in queries.captured_queries]
    first_write = next(i for i, sql in enumerate(statements) if sql.startswith("UPDATE"))
    locks = [sql for sql in statements if sql.startswith("SELECT") and sql.endswith("UPDATE")]
    if connection.features.has_select_for_update:  # PostgreSQL; SQLite locks the whole database per transaction
        assert len(locks) == 1 and statements.index(locks[0]) < first_write
        assert '"comfort_device"' in locks[0] and "ORDER BY 1 ASC" in locks[0] and "FOR NO KEY UPDATE" in locks[0]
    assert Device.objects.get(pk=hvac.pk).online is False


def test_rounds_keep_each_devices_order_and_give_each_device_one_message_per_round():
    a, b = "labs/v1/cph/desk/a", "labs/v1/cph/desk/b"
    batch = [(f"{a}/ack", 1), (f"{b}/ack", 2), (f"{a}/reported", 3), (f"{a}/ack", 4), (f"{b}/reported", 5)]
    assert mqtt_router.rounds(batch) == [
        [(f"{a}/ack", 1), (f"{b}/ack", 2)],
        [(f"{a}/reported", 3), (f"{b}/reported", 5)],
        [(f"{a}/ack", 4)],
    ]


def test_the_batch_path_and_the_single_path_give_acks_the_same_outcome(devices):
    """The same ack sequences through the set-based batch handler and through the per-message handler."""
    desk, hvac = devices["desk"], devices["hvac"]
    outcomes = []
    for batched in (True, False):
        made = [
            services.device_desired_set(device=d, desired=w, reason={"type": "t"}, acts_for=None)
            for d, w in ((desk, {"height_mm": 800 + batched}), (hvac, {"setpoint_c": 21.0 + batched}))
        ]
        desk_cmd, hvac_cmd = made
        acks = [
            (desk.topic("ack"), {"cmd_id": str(desk_cmd.cmd_id), "av": desk_cmd.version, "ac": 202, "eta_s": 3}),
            (hvac.topic("ack"), {"cmd_id": str(hvac_cmd.cmd_id), "av": hvac_cmd.version, "ac": 422, "ad": "fault"}),
            (desk.topic("ack"), {"cmd_id": str(desk_cmd.cmd_id), "av": desk_cmd.version, "ac": 200, "ad": "ok"}),
            (desk.topic("ack"), {"cmd_id": str(desk_cmd.cmd_id), "av": desk_cmd.version + 5, "ac": 200}),  # unknown
        ]
        if batched:
            mqtt_router.dispatch_batch([(t, _raw(p)) for t, p in acks])
        else:
            for topic, payload in acks:
                mqtt_router.dispatch(topic, _raw(payload))
        fields = ("state", "result_code", "result_detail", "progress", "deadline_at")
        outcomes.append(
            [
                {f: getattr(c, f) for f in fields} | {"has": (c.delivered_at is not None, c.applied_at is not None)}
                for c in Command.objects.filter(pk__in=[desk_cmd.pk, hvac_cmd.pk]).order_by("device_id")
            ]
        )
    assert outcomes[0] == outcomes[1]
    assert [o["state"] for o in outcomes[0]] == [CommandState.APPLIED, CommandState.REJECTED]


def test_acks_in_one_batch_each_move_their_own_command(devices):
    desk = devices["desk"]
    first = services.device_desired_set(device=desk, desired={"height_mm": 900}, reason={"type": "t"}, acts_for=None)
    second = services.device_desired_set(device=desk, desired={"height_mm": 950}, reason={"type": "t"}, acts_for=None)
    batch = [
        (desk.topic("ack"), _raw({"cmd_id": str(first.cmd_id), "av": first.version, "ac": 409, "ad": "stale"})),
        (desk.topic("ack"), _raw({"cmd_id": str(second.cmd_id), "av": second.version, "ac": 202, "progress": 0.5})),
        (desk.topic("ack"), _raw({"cmd_id": str(second.cmd_id), "av": second.version, "ac": 200, "ad": "ok"})),
    ]
    mqtt_router.dispatch_batch(batch)
    states = dict(Command.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "state"))
    assert states == {first.pk: CommandState.SUPERSEDED, second.pk: CommandState.APPLIED}


def test_the_batch_path_and_the_single_path_give_reports_and_statuses_the_same_outcome(devices):
    """Reports and online/offline through the set-based batch handlers (PostgreSQL: two statements a round) and
    through the per-message handlers: the same commands settled, the same device rows."""
    desk, hvac, fan = devices["desk"], devices["hvac"], devices["fan"]
    outcomes = []
    for batched in (True, False):
        older = services.device_desired_set(
            device=desk, desired={"height_mm": 810 + batched}, reason={"type": "t"}, acts_for=None
        )
        newer = services.device_desired_set(
            device=desk, desired={"height_mm": 820 + batched}, reason={"type": "t"}, acts_for=None
        )
        moving = services.device_desired_set(
            device=hvac, desired={"setpoint_c": 22.0 + batched}, reason={"type": "t"}, acts_for=None
        )
        sent = services.device_desired_set(
            device=fan, desired={"speed_pct": 40 + batched}, reason={"type": "t"}, acts_for=None
        )
        Command.objects.filter(pk=sent.pk).update(state=CommandState.SENT, sent_at=sent.issued_at)
        messages = [
            # the desk applied the newer version: it becomes applied, the older one superseded
            (desk.topic("reported"), {"v_applied": newer.version, "height_mm": 820 + batched, "moving": False}),
            # the HVAC still moves towards its version: nothing applied yet, nothing older open
            (hvac.topic("reported"), {"v_applied": moving.version, "setpoint_c": 21.0, "moving": True}),
            # the fan comes online: its sent command gets a fresh deadline
            (fan.topic("status"), {"status": "online"}),
            (desk.topic("status"), {"status": "offline"}),
            ("labs/v1/cph/desk/nobody/reported", {"v_applied": 3}),  # an unknown device: nothing
            (desk.topic("reported").replace(desk.device_id, "x" * 8), {"v_applied": -1}),  # invalid: dropped
        ]
        if batched:
            result = mqtt_router.dispatch_batch([(t, _raw(p)) for t, p in messages])
            assert not result.fell_back
        else:
            for topic, payload in messages:
                mqtt_router.dispatch(topic, _raw(payload))
        commands = Command.objects.filter(pk__in=[older.pk, newer.pk, moving.pk, sent.pk]).order_by("pk")
        rows = {d.pk: d for d in Device.objects.filter(pk__in=[desk.pk, hvac.pk, fan.pk])}
        outcomes.append(
            {
                "commands": [
                    (
                        c.state,
                        c.progress,
                        c.applied_at is not None,
                        c.superseded_at is not None,
                        c.delivered_at is not None,
                        c.deadline_at is not None,
                    )
                    for c in commands
                ],
                "devices": [
                    (rows[pk].online, rows[pk].reported, rows[pk].reported_version == (v.version if v else None))
                    for pk, v in ((desk.pk, newer), (hvac.pk, moving), (fan.pk, None))
                ],
            }
        )
    outcomes[0]["devices"][0][1]["height_mm"] -= 1  # the batched round reported 821
    assert outcomes[0] == outcomes[1]
    assert [c[0] for c in outcomes[0]["commands"]] == [
        CommandState.SUPERSEDED,
        CommandState.APPLIED,
        CommandState.QUEUED,
        CommandState.SENT,
    ]
    assert outcomes[0]["commands"][3][5] is True  # the fan's sent command waits on a fresh deadline
    assert [d[0] for d in outcomes[0]["devices"]] == [False, True, True]  # desk offline after its report
    assert outcomes[0]["devices"][0][1] == {"height_mm": 820, "moving": False}


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "one by one"])
def test_a_replayed_old_report_updates_the_state_but_does_not_bring_an_offline_device_online(devices, batched):
    """A bridge that (re)subscribes gets every retained report again, those of devices long gone among them: an old
    ``ts`` stores the state and leaves ``online`` and ``last_seen_at`` alone; a fresh report (or one without ``ts``)
    is a sign of life."""
    desk, fan = devices["desk"], devices["fan"]
    Device.objects.filter(pk__in=[desk.pk, fan.pk]).update(online=False, last_seen_at=None)
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    messages = [
        (desk.topic("reported"), {"v_applied": 0, "height_mm": 731, "moving": False, "ts": hour_ago}),
        (fan.topic("reported"), {"v_applied": 0, "on": True, "speed_pct": 30}),  # no ts: it arrived now
    ]
    if batched:
        assert not mqtt_router.dispatch_batch([(t, _raw(p)) for t, p in messages]).fell_back
    else:
        for topic, payload in messages:
            mqtt_router.dispatch(topic, _raw(payload))

    rows = {d.pk: d for d in Device.objects.filter(pk__in=[desk.pk, fan.pk])}
    assert rows[desk.pk].reported["height_mm"] == 731  # the state is stored
    assert rows[desk.pk].online is False and rows[desk.pk].last_seen_at is None
    assert rows[fan.pk].online is True and rows[fan.pk].last_seen_at is not None

    now = timezone.now().isoformat().replace("+00:00", "Z")
    fresh = [(desk.topic("reported"), {"v_applied": 0, "height_mm": 732, "moving": False, "ts": now})]
    if batched:
        mqtt_router.dispatch_batch([(t, _raw(p)) for t, p in fresh])
    else:
        mqtt_router.dispatch(*[(t, _raw(p)) for t, p in fresh][0])
    assert Device.objects.get(pk=desk.pk).online is True
