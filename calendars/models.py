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
from django.utils.translation import gettext, gettext_lazy

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

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="calendar_connections", verbose_name=gettext_lazy("site")
    )
    provider = models.CharField(max_length=20, choices=ProviderName.choices, verbose_name=gettext_lazy("provider"))
    name = models.CharField(max_length=120, verbose_name=gettext_lazy("name"))
    credentials_ciphertext = models.TextField(
        editable=False,
        help_text=gettext_lazy("The provider credentials as JSON, encrypted with labs.crypto; never shown."),
        verbose_name=gettext_lazy("credentials ciphertext"),
    )
    status = models.CharField(
        max_length=20,
        choices=ConnectionStatus.choices,
        default=ConnectionStatus.ACTIVE,
        verbose_name=gettext_lazy("status"),
    )
    last_error = models.CharField(max_length=500, blank=True, verbose_name=gettext_lazy("last error"))
    last_error_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last error at"))
    created_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("calendar connection")
        verbose_name_plural = gettext_lazy("calendar connections")
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                name="calendar_connection_unique_name_per_site",
                violation_error_message=gettext_lazy("This site already has a calendar connection with that name."),
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

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="calendars", verbose_name=gettext_lazy("connection")
    )
    room = models.OneToOneField(
        Room, on_delete=models.CASCADE, related_name="calendar_link", verbose_name=gettext_lazy("room")
    )
    calendar_id = models.CharField(
        max_length=255,
        help_text=gettext_lazy("The resource calendar's or room mailbox's address."),
        verbose_name=gettext_lazy("calendar ID"),
    )
    status = models.CharField(
        max_length=20,
        choices=CalendarStatus.choices,
        default=CalendarStatus.PENDING,
        verbose_name=gettext_lazy("status"),
    )
    # Incremental sync.
    sync_token = models.TextField(blank=True, verbose_name=gettext_lazy("sync token"))
    sync_query = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy("The query the sync token belongs to."),
        verbose_name=gettext_lazy("sync query"),
    )
    window_start = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("window start"))
    window_end = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("window end"))
    full_sync_required = models.BooleanField(default=True, verbose_name=gettext_lazy("full sync required"))
    last_sync_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last sync at"))
    last_full_sync_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last full sync at"))
    last_sync_requests = models.PositiveIntegerField(
        default=0,
        help_text=gettext_lazy("Provider requests the last sync cost."),
        verbose_name=gettext_lazy("last sync requests"),
    )
    last_sync_changes = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("last sync changes"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=gettext_lazy("last error"))
    last_error_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last error at"))
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("consecutive failures"))
    # Push: a Google watch channel or a Graph subscription.
    watch_id = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy("Google channel id or Graph subscription id."),
        verbose_name=gettext_lazy("watch ID"),
    )
    watch_resource_id = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy("Google's resourceId of the channel."),
        verbose_name=gettext_lazy("watch resource ID"),
    )
    watch_token = models.CharField(
        max_length=128,
        blank=True,
        help_text=gettext_lazy("The secret the provider echoes (channel token or clientState)."),
        verbose_name=gettext_lazy("watch token"),
    )
    watch_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("watch expires at"))
    watch_error = models.CharField(
        max_length=500,
        blank=True,
        help_text=gettext_lazy("Why the last watch start or renewal failed."),
        verbose_name=gettext_lazy("watch error"),
    )
    # One sync per calendar at a time: a conditional UPDATE claims the row until ``sync_claimed_until``.
    sync_claim = models.CharField(max_length=32, blank=True, verbose_name=gettext_lazy("sync claim"))
    sync_claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("sync claimed until"))
    sync_rerun = models.BooleanField(
        default=False,
        help_text=gettext_lazy("A sync was asked for while one ran: run once more."),
        verbose_name=gettext_lazy("sync rerun"),
    )
    sync_queued = models.BooleanField(
        default=False,
        help_text=gettext_lazy("A sync task is queued and has not started."),
        verbose_name=gettext_lazy("sync queued"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("room calendar")
        verbose_name_plural = gettext_lazy("room calendars")
        ordering = ["connection", "room__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar_id"],
                name="room_calendar_unique_calendar",
                violation_error_message=gettext_lazy("This calendar is already linked to another room."),
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

    calendar = models.ForeignKey(
        RoomCalendar, on_delete=models.CASCADE, related_name="event_links", verbose_name=gettext_lazy("calendar")
    )
    event_id = models.CharField(max_length=1024, null=True, blank=True, verbose_name=gettext_lazy("event ID"))
    write_ref = models.CharField(max_length=1024, blank=True, verbose_name=gettext_lazy("write ref"))
    ical_uid = models.CharField(max_length=1024, blank=True, verbose_name=gettext_lazy("iCal UID"))
    etag = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("ETag"))
    recurring_event_id = models.CharField(
        max_length=1024,
        blank=True,
        help_text=gettext_lazy("The series' id, for an instance."),
        verbose_name=gettext_lazy("recurring event ID"),
    )
    original_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("An instance's start in its series."),
        verbose_name=gettext_lazy("original start"),
    )
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calendar_links",
        verbose_name=gettext_lazy("booking"),
    )
    series = models.ForeignKey(
        BookingSeries,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calendar_links",
        verbose_name=gettext_lazy("series"),
    )
    origin = models.CharField(max_length=20, choices=EventOrigin.choices, verbose_name=gettext_lazy("origin"))
    state = models.CharField(
        max_length=20, choices=EventLinkState.choices, default=EventLinkState.LINKED, verbose_name=gettext_lazy("state")
    )
    room_response = models.CharField(
        max_length=20,
        blank=True,
        help_text=gettext_lazy("The room's answer as last seen."),
        verbose_name=gettext_lazy("room response"),
    )
    pending_response = models.CharField(
        max_length=10,
        blank=True,
        help_text=gettext_lazy("accept or decline: the room's answer still to send to the provider."),
        verbose_name=gettext_lazy("pending response"),
    )
    digest = models.CharField(
        max_length=64,
        blank=True,
        help_text=gettext_lazy("What we last wrote (outbound), as a digest."),
        verbose_name=gettext_lazy("digest"),
    )
    reason = models.CharField(
        max_length=300,
        blank=True,
        help_text=gettext_lazy("Why the room declined or ended it."),
        verbose_name=gettext_lazy("reason"),
    )
    start = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("The event's start as last seen or written."),
        verbose_name=gettext_lazy("start"),
    )
    end = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("end"))
    booking_sequence = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=gettext_lazy("The booking's sequence number as last mirrored."),
        verbose_name=gettext_lazy("booking sequence"),
    )
    organiser_email = models.EmailField(
        blank=True,
        help_text=gettext_lazy("An external organiser (not a person here)."),
        verbose_name=gettext_lazy("organiser email"),
    )
    attendee_count = models.PositiveSmallIntegerField(default=0, verbose_name=gettext_lazy("attendee count"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=gettext_lazy("updated at"))

    class Meta:
        verbose_name = gettext_lazy("event link")
        verbose_name_plural = gettext_lazy("event links")
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
        return f"{self.event_id} ({self.get_state_display()})"


class OutboundChange(models.Model):
    """A booking of a linked room changed here; the calendar's next sync writes it to the provider and deletes this."""

    calendar = models.ForeignKey(
        RoomCalendar, on_delete=models.CASCADE, related_name="outbound_changes", verbose_name=gettext_lazy("calendar")
    )
    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="+", verbose_name=gettext_lazy("booking")
    )
    queued_at = models.DateTimeField(verbose_name=gettext_lazy("queued at"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=gettext_lazy("attempts"))

    class Meta:
        verbose_name = gettext_lazy("outbound change")
        verbose_name_plural = gettext_lazy("outbound changes")
        ordering = ["queued_at", "id"]
        constraints = [models.UniqueConstraint(fields=["calendar", "booking"], name="outbound_change_unique")]

    def __str__(self) -> str:
        return gettext("booking %(booking)s → %(calendar)s") % {
            "booking": self.booking_id,
            "calendar": self.calendar_id,
        }


class PersonalCalendar(models.Model):
    """A person's own Google or Microsoft 365 calendar, connected with their consent (OAuth, delegated).

    Bookings they organise are written to it; events in it that invite a room's booking address become bookings.
    The refresh token is encrypted with :mod:`labs.crypto`. Sync state as for room calendars (token, watch)."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="personal_calendar", verbose_name=gettext_lazy("person")
    )
    provider = models.CharField(max_length=20, choices=ProviderName.choices, verbose_name=gettext_lazy("provider"))
    account = models.EmailField(
        help_text=gettext_lazy("The account the person consented with (their calendar's address)."),
        verbose_name=gettext_lazy("account"),
    )
    refresh_token_ciphertext = models.TextField(
        editable=False,
        help_text=gettext_lazy("The refresh token, encrypted; never shown."),
        verbose_name=gettext_lazy("refresh token ciphertext"),
    )
    scopes = models.CharField(max_length=500, blank=True, verbose_name=gettext_lazy("scopes"))
    status = models.CharField(
        max_length=20,
        choices=PersonalStatus.choices,
        default=PersonalStatus.CONNECTED,
        verbose_name=gettext_lazy("status"),
    )
    reconnect_notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("When we asked them to reconnect."),
        verbose_name=gettext_lazy("reconnect notified at"),
    )
    sync_token = models.TextField(blank=True, verbose_name=gettext_lazy("sync token"))
    sync_query = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("sync query"))
    last_sync_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("last sync at"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=gettext_lazy("last error"))
    watch_id = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("watch ID"))
    watch_resource_id = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("watch resource ID"))
    watch_token = models.CharField(max_length=128, blank=True, verbose_name=gettext_lazy("watch token"))
    watch_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("watch expires at"))
    sync_claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("sync claimed until"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))

    class Meta:
        verbose_name = gettext_lazy("personal calendar")
        verbose_name_plural = gettext_lazy("personal calendars")
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

    calendar = models.ForeignKey(
        PersonalCalendar, on_delete=models.CASCADE, related_name="events", verbose_name=gettext_lazy("calendar")
    )
    event_id = models.CharField(max_length=1024, verbose_name=gettext_lazy("event ID"))
    ical_uid = models.CharField(max_length=1024, blank=True, verbose_name=gettext_lazy("iCal UID"))
    etag = models.CharField(max_length=255, blank=True, verbose_name=gettext_lazy("ETag"))
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="personal_events",
        verbose_name=gettext_lazy("booking"),
    )
    series = models.ForeignKey(
        BookingSeries,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="personal_events",
        verbose_name=gettext_lazy("series"),
    )
    origin = models.CharField(max_length=20, choices=EventOrigin.choices, verbose_name=gettext_lazy("origin"))
    state = models.CharField(
        max_length=20, choices=EventLinkState.choices, default=EventLinkState.LINKED, verbose_name=gettext_lazy("state")
    )
    digest = models.CharField(
        max_length=64,
        blank=True,
        help_text=gettext_lazy("What we last wrote (outbound), as a digest."),
        verbose_name=gettext_lazy("digest"),
    )
    title = models.CharField(max_length=200, blank=True, verbose_name=gettext_lazy("title"))
    start = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("start"))
    end = models.DateTimeField(null=True, blank=True, verbose_name=gettext_lazy("end"))
    reason = models.CharField(
        max_length=300,
        blank=True,
        help_text=gettext_lazy("Why the room declined it."),
        verbose_name=gettext_lazy("reason"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=gettext_lazy("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=gettext_lazy("updated at"))

    class Meta:
        verbose_name = gettext_lazy("personal event")
        verbose_name_plural = gettext_lazy("personal events")
        ordering = ["calendar", "start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "event_id"], name="personal_event_unique_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.get_state_display()})"


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
