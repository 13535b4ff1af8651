"""`manage.py calendar_colleague`: demo people at the fake Google keep creating, moving and cancelling meetings in
the linked rooms (as their own Google Calendar would, through the same client libraries), so a newcomer running
`make run` sees calendar bookings appear, move and go in the portal within seconds.

Acts through the demo service account with domain-wide delegation as each demo person in turn; reads the demo
files that ``demo_site`` wrote (var/calendar-fakes). Stops with Ctrl-C.
"""

from __future__ import annotations

import json
import random
import time
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from calendars import demo
from calendars.models import RoomCalendar

TITLES = [
    "Design review", "Customer call", "Sprint planning", "1:1", "Hiring panel", "Investor update", "Retro",
    "Roadmap", "Lunch & learn", "Pairing", "Board prep", "Demo rehearsal",
]  # fmt: skip
SCOPES = ["https://www.googleapis.com/auth/calendar"]


class Command(BaseCommand):
    help = "A demo colleague at the fake Google who keeps booking, moving and cancelling meetings in linked rooms."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=20.0, help="Seconds between actions.")
        parser.add_argument("--rounds", type=int, default=0, help="Stop after this many actions (0: never).")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--token-uri", default="", help="The fake's token endpoint (default: the key file's).")

    def handle(self, *args, **options):
        directory = demo.fakes_dir()
        key_path, tenant_path = directory / "google-service-account.json", directory / "google-tenant.json"
        if not key_path.exists() or not tenant_path.exists():
            raise CommandError(f"No demo tenant in {directory}: run `manage.py demo_site` first.")
        account = json.loads(key_path.read_text())
        if options["token_uri"]:
            account["token_uri"] = options["token_uri"]
        tenant = json.loads(tenant_path.read_text())
        people = sorted(u for u, info in tenant["users"].items() if not info.get("admin"))
        rng = random.Random(options["seed"])
        endpoint = settings.GOOGLE_API_ENDPOINT or f"http://127.0.0.1:{demo.GOOGLE_PORT}/calendar/v3/"
        tz = zoneinfo.ZoneInfo(tenant.get("timezone") or "UTC")
        done = 0
        while not options["rounds"] or done < options["rounds"]:
            rooms = list(RoomCalendar.objects.values_list("calendar_id", flat=True))
            who = rng.choice(people)
            try:
                line = self.act(rng, endpoint, account, who, rooms, tz)
            except Exception as exc:  # noqa: BLE001 - the fake may not be up yet: try again next round
                line = f"{who}: could not reach the fake Google ({exc.__class__.__name__}: {exc})"
            self.stdout.write(f"{timezone.now().astimezone(tz):%H:%M:%S} {line}")
            done += 1
            time.sleep(options["every"])

    def act(self, rng, endpoint, account, who, rooms, tz) -> str:
        import httplib2
        from google.oauth2 import service_account
        from google_auth_httplib2 import AuthorizedHttp
        from googleapiclient.discovery import build

        credentials = service_account.Credentials.from_service_account_info(account, scopes=SCOPES, subject=who)
        http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=10))
        api = build(
            "calendar",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint},
        )
        now = timezone.now()
        mine = [
            e
            for e in api.events()
            .list(calendarId="primary", singleEvents=True, timeMin=now.isoformat(), maxResults=50)
            .execute()
            .get("items", [])
            if e.get("organizer", {}).get("email") == who and e.get("status") != "cancelled"
        ]
        roll = rng.random()
        if mine and roll < 0.3:
            event = rng.choice(mine)
            start, end = self.slot(rng, tz)
            api.events().patch(
                calendarId="primary",
                eventId=event["id"],
                body={"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}},
            ).execute()
            return f"{who} moved {event.get('summary')!r} to {start:%a %d %b %H:%M}"
        if mine and roll < 0.4:
            event = rng.choice(mine)
            api.events().delete(calendarId="primary", eventId=event["id"]).execute()
            return f"{who} cancelled {event.get('summary')!r}"
        if not rooms:
            return f"{who}: no linked room yet"
        room = rng.choice(rooms)
        start, end = self.slot(rng, tz)
        title = rng.choice(TITLES)
        event = (
            api.events()
            .insert(
                calendarId="primary",
                body={
                    "summary": title,
                    "start": {"dateTime": start.isoformat(), "timeZone": tz.key},
                    "end": {"dateTime": end.isoformat(), "timeZone": tz.key},
                    "attendees": [{"email": room, "resource": True}],
                },
            )
            .execute()
        )
        answer = next((a.get("responseStatus") for a in event.get("attendees", []) if a["email"] == room), "?")
        return f"{who} booked {room.split('@')[0]} for {title!r} {start:%a %d %b %H:%M} (the room {answer})"

    @staticmethod
    def slot(rng, tz) -> tuple[datetime, datetime]:
        today = timezone.now().astimezone(tz).date()
        day = today + timedelta(days=rng.randint(1, 6))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        start = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 30)), tzinfo=tz)
        return start, start + timedelta(minutes=rng.choice((30, 60, 90)))
