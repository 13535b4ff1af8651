"""Extension points that let apps react to core events without ``labs`` importing them.

Apps register handlers from ``AppConfig.ready()``. Handlers run inside the caller's transaction, so what they do
(revoking badges, for example) commits or rolls back together with the change that triggered it.
"""

from __future__ import annotations

from collections.abc import Callable

AccessRevokedHandler = Callable[..., None]

_access_revoked_handlers: list[AccessRevokedHandler] = []


def register_access_revoked(handler: AccessRevokedHandler) -> None:
    """``handler(person_id=..., reason=...)`` runs when a person's access must end at once."""
    if handler not in _access_revoked_handlers:
        _access_revoked_handlers.append(handler)


def access_revoked(*, person_id: int, reason: str) -> None:
    for handler in list(_access_revoked_handlers):
        handler(person_id=person_id, reason=reason)
