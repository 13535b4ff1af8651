"""Badges API: thin views, each calling one service or selector."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from badges import selectors, services
from badges.api.serializers import (
    AccessCheckInputSerializer,
    AccessCheckOutputSerializer,
    BadgeIssueInputSerializer,
    BadgeOutputSerializer,
    BadgeStatusInputSerializer,
    MyBadgeOutputSerializer,
    VisitCardInputSerializer,
    VisitCreateInputSerializer,
    VisitOutputSerializer,
)
from badges.choices import Channel
from badges.filtersets import BadgeFilterSet, VisitFilterSet
from labs.api.schema import errors
from labs.errors import NotFound, Unauthenticated
from labs.models import Person
from labs.permissions import HasPerson, IsHost, IsStaff, person_of

READER_KEY_HEADER = "X-Reader-Key"


class MyBadgeApi(APIView):
    """Your digital badge; ``code`` is the QR value for the current 30-second step."""

    permission_classes = [HasPerson]

    @extend_schema(responses={200: MyBadgeOutputSerializer, **errors(404)})
    def get(self, request):
        badge = selectors.badge_for_person(person=person_of(request.user))
        if badge is None:
            raise NotFound("You have no badge yet; reception issues them.")
        return Response(MyBadgeOutputSerializer(badge, context={"at": timezone.now()}).data)


class BadgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Badges: your own; staff see their site's. POST (staff) issues a digital badge or registers a card."""

    serializer_class = BadgeOutputSerializer
    filterset_class = BadgeFilterSet

    def get_permissions(self):
        return [IsStaff()] if self.action == "create" else [HasPerson()]

    def get_queryset(self):
        return selectors.badges_visible_to(person_of(self.request.user)).order_by("-issued_at", "-id")

    @extend_schema(request=BadgeIssueInputSerializer, responses={201: BadgeOutputSerializer, **errors(409)})
    def create(self, request):
        data = BadgeIssueInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = person_of(request.user)
        person = Person.objects.select_related("user", "site").filter(pk=values["person"], site=actor.site_id).first()
        if person is None:
            raise serializers.ValidationError({"person": ["No such person."]})
        badge = services.badge_issue(
            actor=actor,
            person=person,
            kind=values["kind"],
            card_uid=values.get("card_uid"),
            valid_until=values.get("valid_until"),
        )
        return Response(BadgeOutputSerializer(badge).data, status=status.HTTP_201_CREATED)


class _BadgeCommandApi(APIView):
    permission_classes = [HasPerson]
    service = None

    def _badge(self, request, pk):
        return get_object_or_404(selectors.badges_visible_to(person_of(request.user)), pk=pk)

    @extend_schema(request=BadgeStatusInputSerializer, responses={200: BadgeOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        badge = self._badge(request, pk)
        data = BadgeStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extra = {"reason": data.validated_data["reason"]} if "reason" in data.validated_data else {}
        badge = type(self).service(actor=person_of(request.user), badge=badge, **extra)
        return Response(BadgeOutputSerializer(badge).data)


class BadgeRevokeApi(_BadgeCommandApi):
    """Staff revoke a badge for good: the very next scan is refused."""

    service = staticmethod(services.badge_revoke)


class BadgeSuspendApi(_BadgeCommandApi):
    """Staff suspend a badge until it is reinstated."""

    service = staticmethod(services.badge_suspend)


class BadgeReinstateApi(APIView):
    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: BadgeOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        badge = get_object_or_404(selectors.badges_visible_to(person_of(request.user)), pk=pk)
        badge = services.badge_reinstate(actor=person_of(request.user), badge=badge)
        return Response(BadgeOutputSerializer(badge).data)


class VisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Visits you host (staff: every visit at their site). POST registers a visitor; DELETE cancels the visit."""

    serializer_class = VisitOutputSerializer
    filterset_class = VisitFilterSet

    def get_permissions(self):
        return [IsHost()] if self.action == "create" else [HasPerson()]

    def get_queryset(self):
        return selectors.visits_visible_to(person_of(self.request.user)).order_by("start", "id")

    @extend_schema(request=VisitCreateInputSerializer, responses={201: VisitOutputSerializer})
    def create(self, request):
        data = VisitCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visit = services.visit_create(host=person_of(request.user), **data.validated_data)
        visit = self.get_queryset().get(pk=visit.pk)
        return Response(VisitOutputSerializer(visit).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **errors(409)})
    def destroy(self, request, pk=None):
        services.visit_cancel(actor=person_of(request.user), visit=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _visit_for(request, pk):
    return get_object_or_404(selectors.visits_visible_to(person_of(request.user)), pk=pk)


class VisitCheckInApi(APIView):
    """Reception (staff of the visit's site) checks the visitor in; the host is emailed."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: VisitOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        visit = services.visit_check_in(actor=person_of(request.user), visit=_visit_for(request, pk))
        return Response(VisitOutputSerializer(_visit_for(request, visit.pk)).data)


class VisitCheckOutApi(APIView):
    """The host or reception checks the visitor out: the visit and its badge end at once."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: VisitOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        visit = services.visit_check_out(actor=person_of(request.user), visit=_visit_for(request, pk))
        return Response(VisitOutputSerializer(_visit_for(request, visit.pk)).data)


class VisitCardApi(APIView):
    """Reception hands the visitor a physical card, valid for the visit's window only."""

    permission_classes = [HasPerson]

    @extend_schema(request=VisitCardInputSerializer, responses={201: BadgeOutputSerializer, **errors(409)})
    def post(self, request, pk: int):
        visit = _visit_for(request, pk)
        data = VisitCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        badge = services.visit_card_issue(
            actor=person_of(request.user), visit=visit, card_uid=data.validated_data["card_uid"]
        )
        return Response(BadgeOutputSerializer(badge).data, status=status.HTTP_201_CREATED)


class AccessCheckApi(APIView):
    """A reader asks whether to open. 200 with ``allow`` and ``reason`` for every well-formed request (a denial is
    not an error); 401 without the reader's own key in ``X-Reader-Key``. Every decision is audited."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=AccessCheckInputSerializer,
        responses={200: AccessCheckOutputSerializer, **errors(401)},
        parameters=[OpenApiParameter(READER_KEY_HEADER, str, OpenApiParameter.HEADER, required=True)],
    )
    def post(self, request):
        key = request.headers.get(READER_KEY_HEADER, "")
        if not key:
            raise Unauthenticated("Send the reader's API key in X-Reader-Key.", code="not_authenticated")
        data = AccessCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        reader = selectors.reader_authenticate(slug=values["reader"], key=key)
        if reader is None:
            raise Unauthenticated("Wrong reader key.", code="authentication_failed")
        decision = services.access_decide(
            reader=reader,
            reader_ref=values["reader"],
            credential_type=values["credential"]["type"],
            value=values["credential"]["value"],
            channel=Channel.HTTP,
        )
        return Response(
            {"allow": decision.allow, "reason": decision.reason, "ttl_s": decision.ttl_s, "decision": decision.audit_id}
        )
