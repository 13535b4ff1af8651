"""Microsoft Graph's push: change notifications and lifecycle notifications of the rooms' subscriptions.

Both endpoints answer Graph's validation handshake (``?validationToken=X`` → 200 ``text/plain`` X) at once, and
otherwise answer 202 at once after :func:`handle_notifications` has parsed the body and queued work: one incremental
sync per change item whose ``clientState`` matches the subscription's secret, a renewal for
``reauthorizationRequired``, a new subscription and a resync for ``subscriptionRemoved``, a resync for ``missed``.
An item for an unknown subscription or with the wrong ``clientState`` is dropped and logged: Graph retries only
non-2xx answers, and a forger learns nothing from the answer.
"""

from __future__ import annotations

import hmac
import logging

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from calendars.choices import ProviderName
from calendars.models import RoomCalendar
from calendars.providers.microsoft import MicrosoftProvider
from labs.errors import Invalid

logger = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # Graph batches at most a few hundred small items


def handle_notifications(body: bytes, *, endpoint: str) -> int:
    """Parse one POST from Graph and queue what each genuine item asks for; returns how many were accepted."""
    from calendars import services

    if len(body) > MAX_BODY:
        raise Invalid("The notification is too large.")
    try:
        notifications = MicrosoftProvider.notifications_parse(headers={}, body=body)
    except ValueError as exc:
        raise Invalid(f"Not a Microsoft Graph notification: {exc}") from None
    watch_ids = {n.watch_id for n in notifications}
    calendars = {
        c.watch_id: c
        for c in RoomCalendar.objects.filter(watch_id__in=watch_ids, connection__provider=ProviderName.MICROSOFT)
    }
    accepted = 0
    for notification in notifications:
        calendar = calendars.get(notification.watch_id)
        if calendar is None or not calendar.watch_token:
            logger.warning("Graph %s for an unknown subscription %s dropped", endpoint, notification.watch_id)
            continue
        if not hmac.compare_digest(notification.token.encode(), calendar.watch_token.encode()):
            logger.warning(
                "Graph %s for subscription %s (calendar %s) with a wrong clientState dropped",
                endpoint,
                notification.watch_id,
                calendar.pk,
            )
            continue
        services.watch_notified(calendar_id=calendar.pk, kind=notification.kind)
        accepted += 1
    return accepted


def _validation(request) -> HttpResponse | None:
    token = request.query_params.get("validationToken")
    if token is None:
        return None
    # Echoed as text/plain (nosniff is on): Graph compares the body with the token it sent.
    return HttpResponse(token, content_type="text/plain; charset=utf-8", status=200)


_VALIDATION = OpenApiParameter(
    "validationToken", str, description="Graph's handshake when a subscription is created: echoed as text/plain."
)


class _GraphPushApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    endpoint = ""

    @extend_schema(parameters=[_VALIDATION], request=None, responses={200: str, 202: None})
    def post(self, request):
        answer = _validation(request)
        if answer is not None:
            return answer
        handle_notifications(request.body, endpoint=self.endpoint)
        return HttpResponse(status=202)


class MicrosoftNotificationsApi(_GraphPushApi):
    """Graph's change notifications (``notificationUrl`` of the rooms' subscriptions)."""

    endpoint = "notification"


class MicrosoftLifecycleApi(_GraphPushApi):
    """Graph's lifecycle notifications (``lifecycleNotificationUrl``)."""

    endpoint = "lifecycle notification"
