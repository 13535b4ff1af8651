"""The providers, by name: each adapter is a :class:`~calendars.providers.base.CalendarProvider` subclass.

Adapters are imported lazily by dotted path, so an adapter's own dependencies load only when a connection uses it.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from calendars.providers.base import CalendarProvider, ProviderError

PROVIDERS: dict[str, str] = {
    "google": "calendars.providers.google.GoogleProvider",
    "microsoft": "calendars.providers.microsoft.MicrosoftProvider",
}
_registered: dict[str, type[CalendarProvider]] = {}


class ProviderUnavailable(ProviderError):
    def __init__(self, name: str):
        super().__init__(f"No calendar provider named {name!r} is installed.", retryable=False)


def register(name: str, cls: type[CalendarProvider]) -> None:
    """Register (or replace) the adapter for ``name``."""
    _registered[name] = cls


def provider_class(name: str) -> type[CalendarProvider]:
    if name not in _registered:
        path = PROVIDERS.get(name)
        if path is None:
            raise ProviderUnavailable(name)
        try:
            _registered[name] = import_string(path)
        except ImportError:
            raise ProviderUnavailable(name) from None
    return _registered[name]


def provider_for(connection, **options) -> CalendarProvider:
    """The adapter for ``connection``, built from its decrypted credentials."""
    cls = provider_class(connection.provider)
    return cls(credentials=connection.credentials, connection_id=connection.pk, **options)
