"""Microsoft Graph's push: change notifications and lifecycle notifications of the rooms' subscriptions.

Both endpoints answer Graph's validation handshake (``?validationToken=X`` → 200 ``text/plain`` X) at once, and
otherwise answer 202 at once after :func:`handle_notifications` has parsed the body and queued work: one incremental
sync per change item whose ``clientState`` matches the subscription's secret, a renewal for
``reauthorizationRequired``, a new subscription and a resync for ``subscriptionRemoved``, a resync for ``missed``
(:func:`calendars.services.notifications_receive`, the same rule as Google's channels). An item for an unknown
subscription or with the wrong ``clientState`` is dropped and logged, and the answer is still 202: Graph retries only
non-2xx answers, and a forger learns nothing from it.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from calendars.choices import ProviderName
from calendars.providers.microsoft import MicrosoftProvider
from labs.errors import Invalid

logger = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # Graph batches at most a few hundred small items


def handle_notifications(body: bytes, *, endpoint: str) -> int:
    """Parse one POST from Graph and pass its items to the calendars' services, which queue what each genuine item
    asks for (its subscription known, its clientState right) and log and drop the others. Returns how many matched.
    """
    from calendars import services

    if len(body) > MAX_BODY:
        raise Invalid("The notification is too large.")
    try:
        notifications = MicrosoftProvider.notifications_parse(headers={}, body=body)
    except ValueError as exc:
        raise Invalid(f"Not a Microsoft Graph {endpoint}: {exc}") from None
    return services.notifications_receive(provider=ProviderName.MICROSOFT, notifications=notifications)


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

    @extend_schema(parameters=[_VALIDATION], request=None, responses={(200, "text/plain"): str, 202: None})
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
