"""MQTT contract v1 rules (docs/mqtt.md), checked against the simulator's devices and against a minimal desk written
in the test from the page alone; every message is validated against the JSON Schemas in docs/mqtt-schemas/."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from comfort import contract
from comfort.simulator import Faults, SimDesk, SimFan, SimHvac
from tests.comfort.contract_device import MinimalDesk

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "mqtt-schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def validate(leaf: str, payload: dict) -> None:
    jsonschema.validate(payload, schema(leaf), format_checker=jsonschema.FormatChecker())


def doc(v: int, desired: dict, *, cmd_id: str | None = None, **extra) -> dict:
    document = {"v": v, "cmd_id": cmd_id or str(uuid.uuid4()), "desired": desired, "reason": {"type": "test"}, **extra}
    validate("desired", document) if contract.desired_errors(_kind_of(desired), desired) == [] else None
    return document


def _kind_of(desired: dict) -> str:
    return "desk" if "height_mm" in desired else "hvac" if "setpoint_c" in desired else "fan"


def acks(outs) -> list[dict]:
    for leaf, payload, _qos, _retain in outs:
        validate(leaf, payload)
    return [payload for leaf, payload, _q, _r in outs if leaf == "ack"]


DESKS = {
    "simulator": lambda: SimDesk("d1", "cph", speed_mm_s=0),
    "minimal": lambda: MinimalDesk("d1", "cph"),
}


@pytest.fixture(params=sorted(DESKS))
def any_desk(request):
    return DESKS[request.param]()


def test_a_higher_version_is_applied_and_acked_200(any_desk):
    [ack] = acks(any_desk.on_desired(doc(1, {"height_mm": 1100}), 0))

    assert (ack["ac"], ack["av"]) == (200, 1)


def test_a_version_not_above_the_applied_one_gets_409_and_changes_nothing(any_desk):
    any_desk.on_desired(doc(5, {"height_mm": 1100}), 0)

    [ack] = acks(any_desk.on_desired(doc(5, {"height_mm": 700}), 0))
    [older] = acks(any_desk.on_desired(doc(4, {"height_mm": 700}), 0))

    assert ack["ac"] == 409 and older["ac"] == 409
    assert "have 5" in older["ad"]
    [again] = acks(any_desk.on_desired(doc(6, {"height_mm": 800}), 0))
    assert again["ac"] == 200


def test_the_same_cmd_id_is_answered_again_without_applying_twice(any_desk):
    first = doc(1, {"height_mm": 1000})
    [ack] = acks(any_desk.on_desired(first, 0))

    [repeat] = acks(any_desk.on_desired(dict(first), 0))

    assert repeat == ack


@pytest.mark.parametrize("height", [619, 1271, "1000", None])
def test_an_out_of_range_value_gets_400_and_changes_nothing(any_desk, height):
    [ack] = acks(any_desk.on_desired(doc(1, {"height_mm": height}), 0))

    assert ack["ac"] == 400
    [ok] = acks(any_desk.on_desired(doc(1, {"height_mm": 1000}), 0))  # the version was not used up
    assert ok["ac"] == 200


def test_the_simulated_desk_moves_at_about_35_mm_s_with_progress_then_applies():
    desk = SimDesk("d1", "cph", height_mm=740)
    [start] = acks(desk.on_desired(doc(1, {"height_mm": 1090}), 0.0))
    assert start["ac"] == 202 and start["eta_s"] == pytest.approx(10.0)

    progress = []
    applied = None
    for step in range(1, 200):
        for a in acks(desk.tick(step * 0.1)):
            if a["ac"] == 202:
                progress.append(a["progress"])
            else:
                applied = (step * 0.1, a)
        if applied:
            break
    assert progress == sorted(progress) and 0 < progress[0] < progress[-1] < 1
    assert applied[0] == pytest.approx(10.0, abs=0.15)
    assert applied[1]["ac"] == 200 and applied[1]["reported"]["height_mm"] == 1090


def test_a_newer_version_while_moving_retargets_the_desk():
    desk = SimDesk("d1", "cph", height_mm=740)
    desk.on_desired(doc(1, {"height_mm": 1200}), 0.0)
    desk.tick(1.0)

    [ack] = acks(desk.on_desired(doc(2, {"height_mm": 700}), 1.0))

    assert ack["ac"] == 202 and ack["av"] == 2
    outs = []
    for step in range(2, 100):
        outs += desk.tick(float(step))
    assert [a["av"] for a in acks(outs) if a["ac"] == 200] == [2]


def test_hvac_applies_at_once_and_follows_a_first_order_model_toward_the_setpoint():
    hvac = SimHvac("h1", "cph", temp_c=25.0, tau_s=100.0)
    [ack] = acks(hvac.on_desired(doc(1, {"setpoint_c": 21.0, "mode": "auto", "fan": "auto"}), 0))
    assert ack["ac"] == 200 and ack["reported"]["action"] == "cooling"

    hvac.tick(0.0)
    hvac.tick(100.0)  # one time constant: 63 % of the way from 25 to 21

    assert hvac.temp == pytest.approx(21.0 + 4.0 * 0.3679, abs=0.01)
    validate("telemetry", hvac.telemetry())


@pytest.mark.parametrize(
    "desired", [{"setpoint_c": 15.5}, {"setpoint_c": 21.3}, {"setpoint_c": 21.0, "mode": "turbo"}, {"fan": "max"}]
)
def test_hvac_refuses_out_of_range_documents(desired):
    hvac = SimHvac("h1", "cph")
    [ack] = acks(hvac.on_desired(doc(1, desired), 0))
    assert ack["ac"] == 400
    assert hvac.applied_v == 0


def test_fan_applies_and_reports_speed():
    fan = SimFan("f1", "cph")
    outs = fan.on_desired(doc(1, {"on": True, "speed_pct": 60}), 0)
    [ack] = acks(outs)
    assert ack["ac"] == 200
    assert [p for leaf, p, _q, retain in outs if leaf == "reported" and retain][0]["speed_pct"] == 60
    [bad] = acks(fan.on_desired(doc(2, {"on": True, "speed_pct": 101}), 0))
    assert bad["ac"] == 400


def test_an_expired_document_is_refused_with_410():
    desk = SimDesk("d1", "cph", speed_mm_s=0)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

    [ack] = acks(desk.on_desired(doc(1, {"height_mm": 900}, valid_until=past), 0))

    assert ack["ac"] == 410


def test_a_rejecting_device_answers_422():
    desk = SimDesk("d1", "cph", speed_mm_s=0, faults=Faults(reject=True))
    [ack] = acks(desk.on_desired(doc(1, {"height_mm": 900}), 0))
    assert ack["ac"] == 422


def test_the_backend_documents_match_the_desired_schema(devices):
    from comfort import services

    for device, desired in [
        (devices["desk"], {"height_mm": 1000}),
        (devices["hvac"], {"setpoint_c": 21.5, "mode": "cool", "fan": "auto"}),
        (devices["fan"], {"on": True, "speed_pct": 60}),
    ]:
        command = services.device_desired_set(device=device, desired=desired, reason={"type": "check_in", "id": 1})
        validate("desired", command.document())
