"""Calendars API: thin views over calendars.services and calendars.selectors (CALENDAR.md's endpoints).

The providers' push endpoints answer at once and only queue a sync: they authenticate nothing but the secret each
notification carries (Google's channel token, Graph's clientState), which the provider class parses out.
"""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Room
from calendars import providers, selectors, services
from calendars.api.serializers import (
    ConnectionCreateInputSerializer,
    ConnectionOutputSerializer,
    ResourceOutputSerializer,
    RoomCalendarInputSerializer,
    RoomHealthOutputSerializer,
    SyncQueuedOutputSerializer,
)
from calendars.choices import PersonalStatus, ProviderName
from calendars.models import RoomCalendar
from calendars.providers.base import ProviderError
from labs.errors import DomainError, Invalid, NotFound
from labs.models import Site
from labs.permissions import HasPerson, IsStaff, person_of

logger = logging.getLogger(__name__)


class ProviderFailed(DomainError):
    """The provider refused or failed a request made on the caller's behalf."""

    status_code = 502
    code = "provider_error"


def _connection(request, pk: int):
    connection = selectors.connections_for(person_of(request.user)).filter(pk=pk).first()
    if connection is None:
        raise NotFound("No such connection.")
    return connection


class ConnectionListCreateApi(APIView):
    """Calendar connections of your site (staff). POST connects a Google Workspace or Microsoft 365 tenant."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="calendars_connections_list",
        responses=inline_serializer(
            "PaginatedConnectionList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": ConnectionOutputSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.connections_for(person_of(request.user)), request, view=self)
        return paginator.get_paginated_response(ConnectionOutputSerializer(page, many=True).data)

    @extend_schema(request=ConnectionCreateInputSerializer, responses={201: ConnectionOutputSerializer})
    def post(self, request):
        data = ConnectionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = person_of(request.user)
        site = Site.objects.filter(slug=values["site"]).first()
        if site is None:
            raise Invalid("No such site.", extra={"site": ["No such site."]})
        connection = services.connection_create(
            actor=actor,
            site=site,
            provider=values["provider"],
            name=values["name"],
            credentials=values["credentials"],
        )
        connection = _connection(request, connection.pk)
        return Response(ConnectionOutputSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(APIView):
    """A connection and its health; DELETE stops its channels at the provider and unlinks its rooms."""

    permission_classes = [IsStaff]

    @extend_schema(responses=ConnectionOutputSerializer)
    def get(self, request, pk: int):
        return Response(ConnectionOutputSerializer(_connection(request, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.connection_delete(actor=person_of(request.user), connection=_connection(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionResourcesApi(APIView):
    """The provider's room resources (Google Directory resources.calendars, Graph places)."""

    permission_classes = [IsStaff]

    @extend_schema(responses=ResourceOutputSerializer(many=True))
    def get(self, request, pk: int):
        connection = _connection(request, pk)
        try:
            rooms = providers.provider_for(connection).resources_list()
        except ProviderError as exc:
            raise ProviderFailed(str(exc)) from None
        return Response(ResourceOutputSerializer(rooms, many=True).data)


class ConnectionSyncApi(APIView):
    """Queue an incremental sync of every linked room of the connection now."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={202: SyncQueuedOutputSerializer})
    def post(self, request, pk: int):
        queued = services.connection_sync_request(actor=person_of(request.user), connection=_connection(request, pk))
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)


class RoomCalendarApi(APIView):
    """PUT links the room to a calendar of one of your site's connections; DELETE unlinks it."""

    permission_classes = [IsStaff]

    def _room(self, request, pk: int) -> Room:
        room = Room.objects.select_related("site").filter(pk=pk, site_id=person_of(request.user).site_id).first()
        if room is None:
            raise NotFound("No such room.")
        return room

    @extend_schema(request=RoomCalendarInputSerializer, responses=RoomHealthOutputSerializer)
    def put(self, request, pk: int):
        room = self._room(request, pk)
        data = RoomCalendarInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        connection = _connection(request, data.validated_data["connection"])
        calendar = services.room_calendar_link(
            actor=person_of(request.user),
            room=room,
            connection=connection,
            calendar_id=data.validated_data["calendar_id"],
        )
        calendar = RoomCalendar.objects.select_related("room").get(pk=calendar.pk)
        health = selectors.calendar_health(calendar)
        return Response(RoomHealthOutputSerializer(health, context={"tz": room.site.tz}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        services.room_calendar_unlink(actor=person_of(request.user), room=self._room(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _not_found() -> Response:
    return Response({"detail": "Unknown channel.", "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)


class GoogleNotificationsApi(APIView):
    """Google's push notifications (headers only). A known channel with its token: 200, one sync queued."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(request=None, responses={200: None, 404: None})
    def post(self, request):
        try:
            notifications = providers.provider_class("google").notifications_parse(
                headers=request.headers, body=request.body
            )
        except (ValueError, ProviderError):
            return _not_found()
        if not services.notifications_receive(provider="google", notifications=notifications):
            return _not_found()
        return Response(status=status.HTTP_200_OK)


class MyCalendarOutputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=ProviderName.choices, allow_null=True)
    account = serializers.EmailField(allow_null=True)
    status = serializers.ChoiceField(choices=[*PersonalStatus.choices, ("none", "Not connected")])
    last_sync_at = serializers.DateTimeField(allow_null=True)


class MyCalendarApi(APIView):
    """Your own company calendar (CALENDAR.md, "Personal calendars"): its connection; DELETE disconnects it
    (revokes the grant at the provider where it can, deletes the token and the synced event data here). Connect it
    in the portal (`/calendar/connect/{provider}/`): consent is given in the browser."""

    permission_classes = [HasPerson]

    @extend_schema(operation_id="me_calendar_retrieve", responses=MyCalendarOutputSerializer)
    def get(self, request):
        from calendars import personal

        return Response(MyCalendarOutputSerializer(personal.personal_calendar_status(person_of(request.user))).data)

    @extend_schema(operation_id="me_calendar_destroy", request=None, responses={204: None})
    def delete(self, request):
        from calendars import personal

        personal.personal_calendar_disconnect(person=person_of(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)
