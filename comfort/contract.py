"""The MQTT contract v1 (docs/mqtt.md) as code: ranges, ack codes and the validation of desired documents (the
topic tree is :mod:`labs.topics`).

Both the backend and the simulators use this module, and both are tested against the JSON Schemas in
docs/mqtt-schemas/, so the code and the public page cannot drift apart silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

DESK_HEIGHT_MM = (620, 1270)
SETPOINT_C = (Decimal("16.0"), Decimal("30.0"))
SETPOINT_STEP_C = Decimal("0.5")
HVAC_MODES = ("off", "auto", "cool", "heat", "fan_only")
HVAC_FANS = ("auto", "low", "medium", "high")
FAN_SPEED_PCT = (0, 100)

# Ack codes (as in HTTP).
ACK_APPLIED = 200
ACK_IN_PROGRESS = 202
ACK_INVALID = 400
ACK_EXPIRED = 410
ACK_STALE = 409
ACK_UNPROCESSABLE = 422


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def desired_errors(kind: str, desired) -> list[str]:
    """What is wrong with a desired state for a device of ``kind`` (empty when it is valid)."""
    if not isinstance(desired, dict) or not desired:
        return ["desired must be a non-empty object"]
    errors = []
    if kind == "desk":
        unknown = set(desired) - {"height_mm"}
        height = desired.get("height_mm")
        if not isinstance(height, int) or isinstance(height, bool):
            errors.append("height_mm must be a whole number of millimetres")
        elif not DESK_HEIGHT_MM[0] <= height <= DESK_HEIGHT_MM[1]:
            errors.append(f"height_mm out of range {DESK_HEIGHT_MM[0]}..{DESK_HEIGHT_MM[1]}")
    elif kind == "hvac":
        unknown = set(desired) - {"setpoint_c", "mode", "fan"}
        if "setpoint_c" in desired:
            errors += _setpoint_errors(desired["setpoint_c"])
        if "mode" in desired and desired["mode"] not in HVAC_MODES:
            errors.append(f"mode must be one of {', '.join(HVAC_MODES)}")
        if "fan" in desired and desired["fan"] not in HVAC_FANS:
            errors.append(f"fan must be one of {', '.join(HVAC_FANS)}")
    elif kind == "fan":
        unknown = set(desired) - {"on", "speed_pct"}
        if "on" in desired and not isinstance(desired["on"], bool):
            errors.append("on must be true or false")
        speed = desired.get("speed_pct", 0)
        if not isinstance(speed, int) or isinstance(speed, bool) or not FAN_SPEED_PCT[0] <= speed <= FAN_SPEED_PCT[1]:
            errors.append(f"speed_pct out of range {FAN_SPEED_PCT[0]}..{FAN_SPEED_PCT[1]}")
    else:
        return [f"unknown device kind {kind!r}"]
    if unknown:
        errors.append(f"unknown fields: {', '.join(sorted(unknown))}")
    return errors


def _setpoint_errors(value) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return ["setpoint_c must be a number"]
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return ["setpoint_c must be a number"]
    if not SETPOINT_C[0] <= number <= SETPOINT_C[1]:
        return [f"setpoint_c out of range {SETPOINT_C[0]}..{SETPOINT_C[1]}"]
    if number % SETPOINT_STEP_C:
        return [f"setpoint_c must be a multiple of {SETPOINT_STEP_C}"]
    return []
