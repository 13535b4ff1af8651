"""Comfort API: preferences, desk check-in/out, devices and commands. Thin views over comfort's services."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
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
from labs.models import MqttCredential
from labs.mqtt_credentials import mqtt_credential_issue
from labs.permissions import HasPerson, person_of, require_staff


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

    @extend_schema(request=None, responses={200: WorkspaceOutputSerializer, **errors(409, 422)})
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
        dropped = MqttCredential.objects.filter(username=OuterRef("device_id")).values("dropped_messages")[:1]
        return selectors.device_list(person=person_of(self.request.user)).annotate(
            dropped_messages=Coalesce(Subquery(dropped), 0)
        )


class DeviceCredentialsApi(APIView):
    """Issue (or rotate) a device's MQTT credentials; the password is shown once and the old one stops at once."""

    permission_classes = [HasPerson]

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField()

    @extend_schema(request=None, responses={201: OutputSerializer})
    def post(self, request, id: str):
        person = person_of(request.user)
        device = get_object_or_404(selectors.device_list(person=person), device_id=id)
        require_staff(person)  # a member who may see the device at their desk may not take its identity
        issued = mqtt_credential_issue(username=device.device_id, site=device.site.slug, kind=device.kind)
        data = self.OutputSerializer({"username": issued.username, "password": issued.password}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Commands: staff see their site's; others those acting for them or for the devices they may see."""

    serializer_class = CommandSerializer
    permission_classes = [HasPerson]
    filterset_class = CommandFilterSet

    def get_queryset(self):
        return selectors.command_list(person=person_of(self.request.user))
