"""Every state change of calendars (placeholder while the skeleton lands; the engine follows)."""

from __future__ import annotations

from bookings.events import BookingsChanged


def on_bookings_changed(event: BookingsChanged) -> None:
    """After commit: queue the changed bookings of linked rooms for their calendars."""
