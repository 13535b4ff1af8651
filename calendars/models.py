"""Room calendars at Google Workspace and Microsoft 365, kept in two-way sync with bookings.

* :class:`Connection`: one operator tenant (a Google service account with domain-wide delegation, or a Microsoft
  app registration) for one site; its credentials are encrypted at rest with :mod:`labs.crypto`.
* :class:`RoomCalendar`: a room linked to its resource calendar or room mailbox, with that calendar's sync state
  (sync token and the query it belongs to, window, push channel or subscription, last sync, last error) and the
  claim that lets one sync run per calendar at a time.
* :class:`EventLink`: one provider event (or one instance of a recurring event) and the booking it holds, with the
  event id, ``iCalUID`` and etag/changeKey; declined events are kept too, so a resync does not decline them again.
* :class:`OutboundChange`: a booking of a linked room changed here and must be written to the provider; the sync of
  that calendar drains these rows, so a change survives a failing provider until it is written.

Bookings change only through ``bookings.services``. See docs/calendars.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from bookings.models import Booking, BookingSeries, Room
from calendars.choices import (
    CalendarStatus,
    ConnectionStatus,
    EventLinkState,
    EventOrigin,
    PersonalStatus,
    ProviderName,
)
from labs import crypto, privacy
from labs.models import Person, Site
from labs.privacy import Category, LegalBasis, PersonalData, Purpose


class Connection(models.Model):
    """An operator's Google Workspace or Microsoft 365 tenant, used for the rooms of one site."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="calendar_connections")
    provider = models.CharField(max_length=20, choices=ProviderName.choices)
    name = models.CharField(max_length=120)
    credentials_ciphertext = models.TextField(
        editable=False, help_text="The provider credentials as JSON, encrypted with labs.crypto; never shown."
    )
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="calendar_connection_unique_name_per_site",
                violation_error_message="This site already has a calendar connection with that name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_ciphertext)

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.credentials_ciphertext = crypto.encrypt_json(value)


class RoomCalendar(models.Model):
    """A room linked to its calendar at the provider, and that calendar's sync state.

    One room, one calendar; one calendar, one room. ``sync_token`` (Google ``nextSyncToken``, Graph ``deltaLink``)
    is only used with the query it came from (``sync_query``); a different query starts a full sync.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="calendars")
    room = models.OneToOneField(Room, on_delete=models.CASCADE, related_name="calendar_link")
    calendar_id = models.CharField(max_length=255, help_text="The resource calendar's or room mailbox's address.")
    status = models.CharField(max_length=20, choices=CalendarStatus.choices, default=CalendarStatus.PENDING)
    # Incremental sync.
    sync_token = models.TextField(blank=True)
    sync_query = models.CharField(max_length=255, blank=True, help_text="The query the sync token belongs to.")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    full_sync_required = models.BooleanField(default=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_requests = models.PositiveIntegerField(default=0, help_text="Provider requests the last sync cost.")
    last_sync_changes = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Push: a Google watch channel or a Graph subscription.
    watch_id = models.CharField(max_length=255, blank=True, help_text="Google channel id or Graph subscription id.")
    watch_resource_id = models.CharField(max_length=255, blank=True, help_text="Google's resourceId of the channel.")
    watch_token = models.CharField(
        max_length=128, blank=True, help_text="The secret the provider echoes (channel token or clientState)."
    )
    watch_expires_at = models.DateTimeField(null=True, blank=True)
    watch_error = models.CharField(max_length=500, blank=True, help_text="Why the last watch start or renewal failed.")
    # One sync per calendar at a time: a conditional UPDATE claims the row until ``sync_claimed_until``.
    sync_claim = models.CharField(max_length=32, blank=True)
    sync_claimed_until = models.DateTimeField(null=True, blank=True)
    sync_rerun = models.BooleanField(default=False, help_text="A sync was asked for while one ran: run once more.")
    sync_queued = models.BooleanField(default=False, help_text="A sync task is queued and has not started.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection", "room__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar_id"],
                name="room_calendar_unique_calendar",
                violation_error_message="This calendar is already linked to another room.",
            ),
        ]
        indexes = [models.Index(fields=["watch_id"], name="room_calendar_watch_idx")]

    def __str__(self) -> str:
        return f"{self.room} ↔ {self.calendar_id}"


class EventLink(models.Model):
    """One event on a linked room's calendar (or one instance of a recurring event) and the booking it holds.

    ``event_id`` is the id on the room's calendar; ``write_ref`` is what the provider needs to change the event
    (the same id at Google; the organiser's copy at Graph, whose room copy has its own id). ``etag`` is Google's
    etag or Graph's changeKey as last seen, so an unchanged event (our own write's echo) costs nothing.
    """

    calendar = models.ForeignKey(RoomCalendar, on_delete=models.CASCADE, related_name="event_links")
    event_id = models.CharField(max_length=1024, null=True, blank=True)
    write_ref = models.CharField(max_length=1024, blank=True)
    ical_uid = models.CharField(max_length=1024, blank=True)
    etag = models.CharField(max_length=255, blank=True)
    recurring_event_id = models.CharField(max_length=1024, blank=True, help_text="The series' id, for an instance.")
    original_start = models.DateTimeField(null=True, blank=True, help_text="An instance's start in its series.")
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="calendar_links"
    )
    series = models.ForeignKey(
        BookingSeries, on_delete=models.SET_NULL, null=True, blank=True, related_name="calendar_links"
    )
    origin = models.CharField(max_length=20, choices=EventOrigin.choices)
    state = models.CharField(max_length=20, choices=EventLinkState.choices, default=EventLinkState.LINKED)
    room_response = models.CharField(max_length=20, blank=True, help_text="The room's answer as last seen.")
    pending_response = models.CharField(
        max_length=10, blank=True, help_text="accept or decline: the room's answer still to send to the provider."
    )
    digest = models.CharField(max_length=64, blank=True, help_text="What we last wrote (outbound), as a digest.")
    reason = models.CharField(max_length=300, blank=True, help_text="Why the room declined or ended it.")
    start = models.DateTimeField(null=True, blank=True, help_text="The event's start as last seen or written.")
    end = models.DateTimeField(null=True, blank=True)
    booking_sequence = models.PositiveIntegerField(null=True, blank=True, help_text="The booking's last mirrored.")
    organiser_email = models.EmailField(blank=True, help_text="An external organiser (not a person here).")
    attendee_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["calendar", "start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "event_id"], name="event_link_unique_event"),
            models.UniqueConstraint(
                fields=["calendar", "booking"], condition=Q(booking__isnull=False), name="event_link_unique_booking"
            ),
        ]
        indexes = [
            models.Index(fields=["calendar", "ical_uid"], name="event_link_ical_uid_idx"),
            models.Index(fields=["calendar", "recurring_event_id"], name="event_link_series_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.state})"


class OutboundChange(models.Model):
    """A booking of a linked room changed here; the calendar's next sync writes it to the provider and deletes this."""

    calendar = models.ForeignKey(RoomCalendar, on_delete=models.CASCADE, related_name="outbound_changes")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["queued_at", "id"]
        constraints = [models.UniqueConstraint(fields=["calendar", "booking"], name="outbound_change_unique")]

    def __str__(self) -> str:
        return f"booking {self.booking_id} → {self.calendar_id}"


class PersonalCalendar(models.Model):
    """A person's own Google or Microsoft 365 calendar, connected with their consent (OAuth, delegated).

    Bookings they organise are written to it; events in it that invite a room's booking address become bookings.
    The refresh token is encrypted with :mod:`labs.crypto`. Sync state as for room calendars (token, watch)."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="personal_calendar")
    provider = models.CharField(max_length=20, choices=ProviderName.choices)
    account = models.EmailField(help_text="The account the person consented with (their calendar's address).")
    refresh_token_ciphertext = models.TextField(editable=False, help_text="The refresh token, encrypted; never shown.")
    scopes = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=PersonalStatus.choices, default=PersonalStatus.CONNECTED)
    reconnect_notified_at = models.DateTimeField(null=True, blank=True, help_text="When we asked them to reconnect.")
    sync_token = models.TextField(blank=True)
    sync_query = models.CharField(max_length=255, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    watch_id = models.CharField(max_length=255, blank=True)
    watch_resource_id = models.CharField(max_length=255, blank=True)
    watch_token = models.CharField(max_length=128, blank=True)
    watch_expires_at = models.DateTimeField(null=True, blank=True)
    sync_claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person"]
        indexes = [models.Index(fields=["watch_id"], name="personal_calendar_watch_idx")]

    def __str__(self) -> str:
        return f"{self.account} ({self.get_provider_display()})"

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt_json(self.refresh_token_ciphertext)["refresh_token"]

    @refresh_token.setter
    def refresh_token(self, value: str) -> None:
        self.refresh_token_ciphertext = crypto.encrypt_json({"refresh_token": value})


class PersonalEvent(models.Model):
    """One event in a person's own calendar and the booking it mirrors (outbound) or made (inbound)."""

    calendar = models.ForeignKey(PersonalCalendar, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=1024)
    ical_uid = models.CharField(max_length=1024, blank=True)
    etag = models.CharField(max_length=255, blank=True)
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="personal_events"
    )
    series = models.ForeignKey(
        BookingSeries, on_delete=models.SET_NULL, null=True, blank=True, related_name="personal_events"
    )
    origin = models.CharField(max_length=20, choices=EventOrigin.choices)
    state = models.CharField(max_length=20, choices=EventLinkState.choices, default=EventLinkState.LINKED)
    digest = models.CharField(max_length=64, blank=True, help_text="What we last wrote (outbound), as a digest.")
    title = models.CharField(max_length=200, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="Why the room declined it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["calendar", "start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "event_id"], name="personal_event_unique_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.state})"


_EVENTS = "while the booking it holds is kept (its end + 30 days for the title and organiser), then deleted"
privacy.not_personal(
    Connection,
    name="the operator's name for its tenant",
    credentials_ciphertext="the operator's service credentials (encrypted), not a person's",
    last_error="the provider's error text about the operator's credentials",
)
privacy.not_personal(
    RoomCalendar,
    sync_token="the provider's opaque cursor for a room's calendar",  # noqa: S106 - a reason, not a password
    watch_token="a random secret we chose for the push channel",  # noqa: S106 - a reason, not a password
    last_error="the provider's error text about a room's calendar",
)
_EVENT = PersonalData(Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, _EVENTS, 30)
privacy.declare(
    EventLink,
    event_id=_EVENT,
    write_ref=_EVENT,
    ical_uid=_EVENT,
    start=_EVENT,
    end=_EVENT,
    attendee_count=_EVENT,
    reason=_EVENT,
    organiser_email=PersonalData(
        Category.CALENDAR, (Purpose.BOOK_ROOMS, Purpose.IDENTIFY_CONTACT), LegalBasis.CONTRACT, _EVENTS, 30
    ),
)

_CONNECTION = "until the person disconnects, or erasure"
_PERSONAL = PersonalData(Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, _CONNECTION)
privacy.declare(
    PersonalCalendar,
    account=PersonalData(
        Category.CALENDAR, (Purpose.BOOK_ROOMS, Purpose.IDENTIFY_CONTACT), LegalBasis.CONTRACT, _CONNECTION
    ),
    refresh_token_ciphertext=_PERSONAL,
    scopes=_PERSONAL,
    sync_token=_PERSONAL,
    last_error=_PERSONAL,
)
privacy.not_personal(
    PersonalCalendar,
    watch_token="a random secret we chose for the push channel",  # noqa: S106 - a reason, not a password
)
_PERSONAL_EVENT = PersonalData(
    Category.CALENDAR, (Purpose.BOOK_ROOMS,), LegalBasis.CONTRACT, "until disconnect or erasure; with its booking"
)
privacy.declare(
    PersonalEvent,
    event_id=_PERSONAL_EVENT,
    ical_uid=_PERSONAL_EVENT,
    title=_PERSONAL_EVENT,
    start=_PERSONAL_EVENT,
    end=_PERSONAL_EVENT,
    reason=_PERSONAL_EVENT,
)
