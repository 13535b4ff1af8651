"""Comfort API: preferences, desk check-in/out, devices and commands. Thin views over comfort's services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Desk
from comfort import selectors, services
from comfort.api.serializers import (
    CommandSerializer,
    DeviceSerializer,
    PreferenceSerializer,
    WorkspaceOutputSerializer,
)
from comfort.filtersets import CommandFilterSet, DeviceFilterSet
from labs.api.schema import errors
from labs.permissions import HasPerson, person_of


class MyPreferencesApi(APIView):
    """The caller's office preferences (desk heights, temperature, fan); applied at once where they are checked in."""

    permission_classes = [HasPerson]

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request):
        return Response(PreferenceSerializer(selectors.preference_of(person=person_of(request.user))).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = PreferenceSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        preference, _commands = services.preference_update(
            person=person_of(request.user), data=dict(data.validated_data)
        )
        return Response(PreferenceSerializer(preference).data)


def _desk_for(request, pk: int) -> Desk:
    person = person_of(request.user)
    return get_object_or_404(Desk.objects.select_related("zone", "site"), pk=pk, is_active=True, site=person.site)


class DeskCheckInApi(APIView):
    """Check in at a desk: the desk moves to my sitting height, my zone re-arbitrates its setpoint and fan."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: WorkspaceOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        result = services.workspace_check_in(person=person_of(request.user), desk=_desk_for(request, pk))
        return Response(WorkspaceOutputSerializer(result).data)


class DeskCheckOutApi(APIView):
    """Check out of a desk: the desk and the zone return to their defaults (or to who is still there)."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: WorkspaceOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        result = services.workspace_check_out(person=person_of(request.user), desk=_desk_for(request, pk))
        return Response(WorkspaceOutputSerializer(result).data)


class DeviceViewSet(viewsets.ReadOnlyModelViewSet):
    """Devices: staff see their site's; members only those of the desk they are checked in at and its zone."""

    serializer_class = DeviceSerializer
    permission_classes = [HasPerson]
    filterset_class = DeviceFilterSet
    lookup_field = "device_id"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return selectors.device_list(person=person_of(self.request.user))


class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Commands: staff see their site's; others those acting for them or for the devices they may see."""

    serializer_class = CommandSerializer
    permission_classes = [HasPerson]
    filterset_class = CommandFilterSet

    def get_queryset(self):
        return selectors.command_list(person=person_of(self.request.user))
