"""Demo data for the Microsoft half: the local fake's demo tenant connected to the demo site, and four rooms
(Nordlys, Tinde, Ø, Sund) linked to its room mailboxes.

Called by ``manage.py demo_site`` (``APP_DEMOS``). Only when ``MS_AUTHORITY_HOST`` is the local fake (``make run``
points it at ``manage.py calendar_fakes``, which serves this tenant: ``calendars.fakes.microsoft.demo_seed``): the
demo never connects a real tenant, and in tests it does nothing.
Idempotent: the connection is matched by name, and a room already linked stays as it is. The links' first syncs are
queued, and run once the worker and the fake are up.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from bookings.models import Room
from calendars import services
from calendars.demo import DEMO_PEOPLE as DEMO_USERNAMES
from calendars.fakes.microsoft import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    DEMO_PEOPLE_FILE,
    DEMO_ROOMS,
    DEMO_SERVICE_MAILBOX,
    ensure_tls,
)
from calendars.models import Connection, RoomCalendar
from labs.choices import Role
from labs.errors import DomainError
from labs.files import write_atomically
from labs.models import Person, Site

CONNECTION_NAME = "Demo Microsoft 365 (local fake)"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def uses_local_fake() -> bool:
    return urlsplit(settings.MS_AUTHORITY_HOST).hostname in _LOOPBACK


def seed(*, site: Site, stdout) -> None:
    if not uses_local_fake():
        stdout.write("  calendars (Microsoft 365): MS_AUTHORITY_HOST is not the local fake; no demo tenant connected")
        return
    # The fake's CA, made now (the fake reuses it), so MS_CA_BUNDLE names a file before any worker syncs.
    fakes = Path(settings.VAR_DIR) / "calendar-fakes"
    ensure_tls(fakes / "microsoft")
    people = _write_people(site, fakes / DEMO_PEOPLE_FILE)
    staff = (
        Person.objects.filter(site=site, role=Role.STAFF, user__is_active=True)
        .exclude(user__username__startswith="calendar-sync-")
        .order_by("pk")
        .first()
    )
    if staff is None:
        stdout.write("  calendars (Microsoft 365): the site has no staff yet; nothing connected")
        return
    connection = Connection.objects.filter(site=site, name=CONNECTION_NAME).first()
    if connection is None:
        connection = services.connection_create(
            actor=staff,
            site=site,
            provider="microsoft",
            name=CONNECTION_NAME,
            credentials={
                "tenant_id": DEFAULT_TENANT_ID,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "service_mailbox": DEMO_SERVICE_MAILBOX,
            },
            verify=False,  # the fake may not be up yet: make run starts it after the demo
        )
    linked = 0
    for address, name, *_rest in DEMO_ROOMS:
        room = Room.objects.filter(site=site, name=name).first()
        if room is None or RoomCalendar.objects.filter(room=room).exists():
            continue
        try:
            services.room_calendar_link(actor=staff, room=room, connection=connection, calendar_id=address)
            linked += 1
        except DomainError as exc:
            stdout.write(f"  calendars (Microsoft 365): {name} not linked: {exc.detail}")
    total = RoomCalendar.objects.filter(connection=connection).count()
    stdout.write(
        f"  calendars (Microsoft 365): {total} rooms linked to the demo tenant (+{linked}); "
        f"{people} demo people can connect their Outlook calendar"
    )


def _write_people(site: Site, path: Path) -> int:
    """The demo people with an e-mail address, for the fake to serve as Outlook users (its ``serve``): on "My
    calendar" each of them can connect Microsoft 365 as they can Google."""
    people = [
        [person.user.email, person.display_name]
        for person in Person.objects.select_related("user").filter(site=site, user__username__in=DEMO_USERNAMES)
        if person.user.email
    ]
    write_atomically(path, json.dumps(people, indent=2))
    return len(people)
