"""Where a page sends someone back to: the ``next`` a form or link carries (the portal's pages, the admin's sign-in)."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def local_target(request, value: str | None) -> str | None:
    """``value`` if it is a path of this site ("/bookings/?day=2026-12-03"), else None.

    Never another host (an open redirect: ``url_has_allowed_host_and_scheme``), and never a bare word: ``redirect()``
    takes "0" or "foo" for the name of a URL pattern and fails on it (``?next=0`` on the sign-in page was a 500). Every
    ``next`` the portal writes is a path."""
    if not value or not value.startswith("/"):
        return None
    host, secure = request.get_host(), request.is_secure()
    return value if url_has_allowed_host_and_scheme(value, allowed_hosts={host}, require_https=secure) else None
