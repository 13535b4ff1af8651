"""Comfort policy: defaults and timings. Each value can be overridden by a Django setting of the same name."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings

_DEFAULTS = {
    # A desk goes back to this height at check-out.
    "COMFORT_DESK_DEFAULT_HEIGHT_MM": 740,
    # A zone's setpoint stays within this many degrees of its policy (Zone.default_setpoint_c).
    "COMFORT_ZONE_BAND_C": Decimal("2.0"),
    "COMFORT_ZONE_MODE": "auto",
    "COMFORT_ZONE_HVAC_FAN": "auto",
    # With nobody checked in the zone's fan is off.
    "COMFORT_ZONE_IDLE_FAN": {"on": False, "speed_pct": 0},
    # An online device has this long to answer a command (and, once moving, eta_s plus the grace to progress)
    # before the command is published again; after COMFORT_MAX_ATTEMPTS publications it is timed out.
    "COMFORT_ACK_TIMEOUT": timedelta(seconds=10),
    "COMFORT_PROGRESS_GRACE": timedelta(seconds=10),
    "COMFORT_MAX_ATTEMPTS": 3,
    # A command without a natural end (a zone policy) is valid this long.
    "COMFORT_COMMAND_VALIDITY": timedelta(hours=12),
    # Finished commands and zone decisions are deleted this long after they were issued.
    "COMFORT_HISTORY_RETENTION": timedelta(days=30),
}


def get(name: str):
    return getattr(settings, name, _DEFAULTS[name])
