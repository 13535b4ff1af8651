from django.db import models
from django.utils.translation import gettext_lazy, pgettext_lazy


class ProviderName(models.TextChoices):
    GOOGLE = "google", gettext_lazy("Google Workspace")
    MICROSOFT = "microsoft", gettext_lazy("Microsoft 365")


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("a calendar connection", "Active")
    FAILING = "failing", gettext_lazy("Failing: the provider refused the credentials")


class CalendarStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("Linked, first sync not done yet")
    OK = "ok", gettext_lazy("In sync")
    FAILING = "failing", gettext_lazy("Failing: see the last error")


class EventOrigin(models.TextChoices):
    INBOUND = "inbound", gettext_lazy("Made at the provider (a booking was created from it)")
    OUTBOUND = "outbound", gettext_lazy("Written by us for a booking made elsewhere")


class EventLinkState(models.TextChoices):
    LINKED = "linked", gettext_lazy("Holds its booking")
    DECLINED = "declined", gettext_lazy("Declined by the room (conflict or broken rule)")
    ENDED = "ended", gettext_lazy("Cancelled, deleted or released: holds nothing")


class PersonalStatus(models.TextChoices):
    CONNECTED = "connected", gettext_lazy("Connected")
    NEEDS_RECONNECT = "needs_reconnect", gettext_lazy("Needs reconnecting: the grant was revoked or expired")
