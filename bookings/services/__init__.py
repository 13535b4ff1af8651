"""Every state change of bookings, as a package of modules named after the rules they hold:

* :mod:`.rules`: the booking rules (opening hours, notice, advance, duration, capacity, weekly quota);
* :mod:`.conflicts`: no two holding bookings of a room or desk overlap;
* :mod:`.changes`: create (single or recurring), re-time, cancel;
* :mod:`.check_in`: check-in from every door, check-out, release of no-shows, the end of bookings; announces desk
  occupancy through :mod:`bookings.events`;
* :mod:`.feeds`: private iCalendar feed tokens;
* :mod:`.demand`: unmet demand (refused attempts, empty room searches) counted without any person;
* :mod:`.plans`: where desks and rooms sit on their floor's plan;
* :mod:`.imports`: historical bookings from CSV or iCalendar, all or nothing.

No two holding bookings of a room or desk overlap. On PostgreSQL the exclusion constraints (migration 0003) are the
check: a single booking is inserted straight away and, when a constraint refuses it (SQLSTATE 23P01), the holder is
looked up after the error and the API answers 409 ``conflict`` naming its interval, never a 500. Series, re-timing
and desk walk-ins still look first (they need the dates, or pick an end from the next booking), and the constraint
still has the last word. On SQLite (no constraint) the service looks for an overlap inside an IMMEDIATE transaction
(settings), so the check and the insert run under the database's write lock and cannot interleave.

Callers import the services from here: ``from bookings import services; services.booking_create(...)``.
"""

from bookings.services.changes import (
    SeriesResult,
    booking_cancel,
    booking_create,
    booking_series_create,
    booking_update,
    bookings_end_for_person,
    cancelling_ends,
)
from bookings.services.check_in import (
    booking_check_in,
    bookings_complete_ended,
    bookings_release_no_shows,
    desk_check_in,
    desk_check_out,
    desk_presence_check_in,
    presence_check_in,
    series_ended_notify,
)
from bookings.services.demand import demand_signal_record, empty_search_record
from bookings.services.feeds import calendar_feed_regenerate, calendar_feed_revoke, calendar_feed_token_digest
from bookings.services.imports import ImportMalformed, ImportResult, bookings_import
from bookings.services.plans import floor_plan_positions_set
from bookings.services.rules import (
    EffectiveRules,
    booking_refusals,
    booking_rules_check,
    closed_days,
    policy_for,
    rules_for,
)

__all__ = [
    "EffectiveRules",
    "ImportMalformed",
    "ImportResult",
    "SeriesResult",
    "booking_cancel",
    "cancelling_ends",
    "booking_check_in",
    "booking_create",
    "booking_refusals",
    "closed_days",
    "booking_rules_check",
    "booking_series_create",
    "booking_update",
    "bookings_complete_ended",
    "bookings_end_for_person",
    "bookings_import",
    "bookings_release_no_shows",
    "calendar_feed_regenerate",
    "calendar_feed_revoke",
    "calendar_feed_token_digest",
    "demand_signal_record",
    "desk_check_in",
    "desk_check_out",
    "desk_presence_check_in",
    "empty_search_record",
    "floor_plan_positions_set",
    "policy_for",
    "presence_check_in",
    "rules_for",
    "series_ended_notify",
]
