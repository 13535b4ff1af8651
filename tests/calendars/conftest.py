"""Fixtures of the calendars tests: the engine's and the Google half's live in tests/calendars/google_support.py (the
Microsoft half's in tests/calendars/ms_support.py)."""

from tests.calendars.google_support import *  # noqa: F403
