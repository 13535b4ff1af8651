"""Fixtures of the calendars tests. The Microsoft half's live in tests/calendars/ms_support.py."""

from tests.calendars.ms_support import closed_network, fake_ms, ms_server  # noqa: F401
