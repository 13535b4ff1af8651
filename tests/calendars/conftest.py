"""Fixtures of the calendars tests. The Microsoft half's live in tests/calendars/ms_support.py; the clock, the rooms
and the after-commit helper are the engine's (tests/calendars/google_support.py)."""

from tests.calendars.google_support import committed, fjord, frozen, havn, quick_passwords  # noqa: F401
from tests.calendars.ms_support import (  # noqa: F401
    closed_network,
    fake_ms,
    ms_connection,
    ms_linked,
    ms_project,
    ms_server,
)
