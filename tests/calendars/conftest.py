"""Fixtures of the calendars tests: the engine's and the Google half's live in tests/calendars/google_support.py (the
Microsoft half's in tests/calendars/ms_support.py)."""

from tests.calendars.google_support import *  # noqa: F403
from tests.calendars.ms_support import (  # noqa: F401
    closed_network,
    fake_ms,
    ms_connection,
    ms_linked,
    ms_project,
    ms_server,
)
