"""Core API views: thin, each calling one service or selector."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from labs import privacy, services
from labs.api.serializers import (
    MeOutputSerializer,
    MeUpdateInputSerializer,
    SiteSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
)
from labs.health import health_report
from labs.models import Site
from labs.permissions import HasPerson, IsStaff, person_of


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("Health", {"status": serializers.CharField(), "checks": serializers.DictField()})
    )
    def get(self, request):
        ok, checks = health_report()
        return Response({"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503)


class AuthTokenApi(APIView):
    """Exchange a username, password and (for accounts with an authenticator) its code for an API token.

    Every guess goes through the one sign-in throttle (labs.services.sign_in_attempt). Errors: 401
    ``authentication_failed`` (wrong password), 401 ``otp_required`` / ``otp_invalid`` (code missing or wrong), 403
    ``second_factor_enrolment_required`` (staff without an authenticator), 429 ``throttled``.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenInputSerializer, responses=TokenOutputSerializer)
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.sign_in_for_token(
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            code=data.validated_data.get("otp") or None,
            ip=services.client_ip(request),
            request=request,
        )
        return Response({"token": token})


class MeApi(APIView):
    permission_classes = [HasPerson]

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        return Response(MeOutputSerializer(person_of(request.user)).data)

    @extend_schema(request=MeUpdateInputSerializer, responses=MeOutputSerializer)
    def patch(self, request):
        person = person_of(request.user)
        if not isinstance(request.data, dict):
            return Response({"detail": "Send a JSON object.", "code": "invalid"}, status=400)
        # Protected fields (role, company, site) are refused by the service, not silently dropped here.
        protected = services.PROTECTED_FIELDS & request.data.keys()
        data = MeUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        payload = {**data.validated_data, **{k: request.data[k] for k in protected}}
        person = services.person_update_profile(actor=person, person=person, data=payload)
        return Response(MeOutputSerializer(person).data)


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    """Sites: every signed-in person may see the operator's sites (names, time zones, addresses are public)."""

    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    permission_classes = [HasPerson]
    lookup_field = "slug"


class PrivacyRegisterApi(APIView):
    """The record of processing activities, generated from the privacy declarations in the code."""

    permission_classes = [IsStaff]

    @extend_schema(responses=inline_serializer("PrivacyRegister", {"results": serializers.ListField()}))
    def get(self, request):
        rows = privacy.register()
        return Response({"count": len(rows), "results": rows})
