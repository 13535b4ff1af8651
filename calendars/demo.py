"""Demo data for calendars, called by ``manage.py demo_site``: a demo Google Workspace whose rooms are linked.

The fake Google (``manage.py calendar_fakes``, started by ``make run``) serves the tenant written here to
``var/calendar-fakes/google-tenant.json``: the site's rooms as resource calendars, the demo people as Workspace users,
and a service account whose key (``google-service-account.json``, mode 0600) is what the demo connection holds,
encrypted. Four rooms are linked; their first sync runs when the worker and the fake are up. ``manage.py
calendar_colleague`` then keeps creating and moving events there as demo people, so bookings appear in the portal.

Idempotent: the key, the tenant, the connection and the links are made once.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from bookings.models import Room
from calendars import services
from calendars.fakes.google import Tenant, make_service_account
from calendars.models import Connection, RoomCalendar
from labs.files import write_atomically
from labs.models import Person, Site

DOMAIN = "labs-demo.example"
SYNC_USER = f"labs-sync@{DOMAIN}"
CLIENT_EMAIL = "labs-sync@labs-demo.iam.gserviceaccount.com"
GOOGLE_PORT = 9101  # manage.py calendar_fakes serves the fake Google here (Makefile: CALENDAR_FAKES_ENV)
CONNECTION_NAME = "Demo Google Workspace"
LINKED_ROOMS = ("Fjord", "Havn", "Lyng", "Skov")
EXTERNAL_GUEST = "guest@partner-demo.example"
DEMO_PEOPLE = ("member", "colleague", "outsider", "mentor", "sponsor", "staff")
# The operator's OAuth web client at the fake Google, for personal calendars (Makefile: CALENDAR_FAKES_ENV).
OAUTH_CLIENT_ID = "labs-demo-portal.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "labs-demo-portal-secret"  # noqa: S105 - the fake's demo credential


def fakes_dir() -> Path:
    return Path(settings.VAR_DIR) / "calendar-fakes"


def room_email(name: str) -> str:
    table = str.maketrans({"ø": "oe", "å": "aa", "æ": "ae", "Ø": "oe"})
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.translate(table).lower()).strip("-") or "room"
    return f"{slug}@rooms.{DOMAIN}"


def ensure_google_files(site: Site) -> tuple[dict, Tenant]:
    """The demo service account's key and the fake's tenant (rooms and people of ``site``), made once."""
    directory = fakes_dir()
    key_path, tenant_path = directory / "google-service-account.json", directory / "google-tenant.json"
    if key_path.exists() and tenant_path.exists():
        account = json.loads(key_path.read_text())
        tenant = Tenant.from_dict(json.loads(tenant_path.read_text()))
    else:
        account, public_pem = make_service_account(CLIENT_EMAIL, token_uri=f"http://127.0.0.1:{GOOGLE_PORT}/token")
        tenant = Tenant(domain=DOMAIN, customer="C0demo", timezone=site.timezone)
        tenant.service_accounts[CLIENT_EMAIL] = public_pem
        write_atomically(key_path, json.dumps(account, indent=2), private=True)
    tenant.add_user(SYNC_USER, name="Labs sync", admin=True)
    tenant.oauth_clients[OAUTH_CLIENT_ID] = OAUTH_CLIENT_SECRET
    tenant.add_user(EXTERNAL_GUEST, name="A guest from a partner")
    for person in Person.objects.select_related("user").filter(site=site, user__username__in=DEMO_PEOPLE):
        if person.user.email:
            tenant.add_user(person.user.email, name=person.display_name)
    for room in Room.objects.filter(site=site).select_related("floor"):
        tenant.add_room(room_email(room.name), name=room.name, capacity=room.capacity, floor=room.floor.name)
    write_atomically(tenant_path, json.dumps(tenant.to_dict(), indent=2))
    return account, tenant


def seed(*, site: Site, stdout) -> None:
    staff = Person.objects.select_related("user").filter(site=site, user__username="staff").first()
    if staff is None:
        stdout.write("  calendars: no demo staff; nothing seeded")
        return
    account, _tenant = ensure_google_files(site)
    made = 0
    with transaction.atomic():
        connection = Connection.objects.filter(site=site, name=CONNECTION_NAME).first()
        if connection is None:
            connection = services.connection_create(
                actor=staff,
                site=site,
                provider="google",
                name=CONNECTION_NAME,
                credentials={"service_account": account, "subject": SYNC_USER},
                verify=False,  # the fake is not up yet: the worker's first sync uses the credentials
            )
        for room in Room.objects.filter(site=site, name__in=LINKED_ROOMS):
            if not RoomCalendar.objects.filter(room=room).exists():
                services.room_calendar_link(
                    actor=staff, room=room, connection=connection, calendar_id=room_email(room.name)
                )
                made += 1
    linked = RoomCalendar.objects.filter(connection=connection).count()
    stdout.write(
        f"  calendars: {CONNECTION_NAME} (fake Google on 127.0.0.1:{GOOGLE_PORT}), {linked} rooms linked (+{made}); "
        "`make run` starts the fake and a demo colleague who books there"
    )
    member = Person.objects.select_related("user").filter(site=site, user__username="member").first()
    if member is not None and member.user.email:
        stdout.write(
            f"  calendars: personal calendar: sign in as member, open My calendar (/calendar/), Connect Google "
            f"Calendar or Microsoft 365 (Outlook): the fake approves {member.user.email} at once; invite a room's "
            "booking address (on its room page) from that calendar to book it"
        )
