"""Bookings API: thin views, each calling one service or selector."""

from __future__ import annotations

import json

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, parsers, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import ical, selectors, services
from bookings.api.serializers import (
    AvailabilityQuerySerializer,
    BookingCancelInputSerializer,
    BookingCreateInputSerializer,
    BookingOutputSerializer,
    BookingUpdateInputSerializer,
    CalendarFeedOutputSerializer,
    DeskOutputSerializer,
    PlanPositionsInputSerializer,
    PlanPositionsOutputSerializer,
    RoomOutputSerializer,
    SeriesCreatedOutputSerializer,
)
from bookings.choices import BookingSource
from bookings.filtersets import BookingFilterSet, DeskFilterSet, RoomFilterSet
from bookings.models import CalendarFeed, Desk, Room
from labs import services_privacy
from labs.api.schema import errors
from labs.errors import Invalid, NotFound
from labs.models import Floor, Site
from labs.permissions import HasPerson, IsStaff, person_of


class ICalendarRenderer(renderers.BaseRenderer):
    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()  # an error payload


class ICalendarViewMixin:
    """iCalendar when it works; an error is JSON like every other error of the API (not JSON labelled text/calendar)."""

    renderer_classes = [ICalendarRenderer, renderers.JSONRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = renderers.JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def _busy_payload(resource, day, viewer) -> dict:
    busy = selectors.resource_busy_intervals(
        room=resource if isinstance(resource, Room) else None,
        desk=resource if isinstance(resource, Desk) else None,
        day=day,
        viewer=viewer,
    )
    tz = resource.site.tz
    return {
        "id": resource.pk,
        "date": day.isoformat(),
        "timezone": tz.key,
        "busy": [
            {
                "start": b.start.astimezone(tz).isoformat(),
                "end": b.end.astimezone(tz).isoformat(),
                "held_until": b.held_until.astimezone(tz).isoformat(),
                "mine": b.mine,
                "booking": b.booking_id,
            }
            for b in busy
        ],
    }


_AVAILABILITY = inline_serializer(
    "Availability",
    {
        "id": serializers.IntegerField(),
        "date": serializers.DateField(),
        "timezone": serializers.CharField(),
        "busy": serializers.ListField(child=serializers.DictField()),
    },
)


class RoomViewSet(viewsets.ReadOnlyModelViewSet):
    """Conference rooms; ``free_from`` + ``free_to`` keep only rooms free for that whole window."""

    queryset = Room.objects.filter(is_active=True).select_related("site", "floor").order_by("floor__level", "name")
    serializer_class = RoomOutputSerializer
    permission_classes = [HasPerson]
    filterset_class = RoomFilterSet

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if response.status_code == 200 and response.data.get("count") == 0:
            _record_empty_search(request, self.get_queryset())
        return response

    @extend_schema(parameters=[AvailabilityQuerySerializer], responses=_AVAILABILITY)
    @action(detail=True, methods=["get"])
    def availability(self, request, pk=None):
        room = self.get_object()
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(_busy_payload(room, query.validated_data["date"], person_of(request.user)))


def _record_empty_search(request, queryset) -> None:
    """A search for a free window that found no room is unmet demand (for ``capacity_min`` people, else one)."""
    search = RoomFilterSet(request.query_params, queryset=queryset, request=request)
    if not search.is_valid():
        return
    data = search.form.cleaned_data
    person = person_of(request.user)
    site = data.get("site") or (person.site if person else None)
    if data.get("free_from") is None or site is None:
        return
    capacity = int(data["capacity_min"]) if data.get("capacity_min") else None
    services.empty_search_record(site=site, start=data["free_from"], people=capacity)


class DeskViewSet(viewsets.ReadOnlyModelViewSet):
    """Desks; the same filters as rooms, plus ``zone`` (slug)."""

    queryset = Desk.objects.filter(is_active=True).select_related("site", "floor", "zone").order_by("label")
    serializer_class = DeskOutputSerializer
    permission_classes = [HasPerson]
    filterset_class = DeskFilterSet

    @extend_schema(parameters=[AvailabilityQuerySerializer], responses=_AVAILABILITY)
    @action(detail=True, methods=["get"])
    def availability(self, request, pk=None):
        desk = self.get_object()
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(_busy_payload(desk, query.validated_data["date"], person_of(request.user)))


def _resource(data: dict) -> dict:
    """The room or desk named in the input; an unknown or inactive one is a 400 on that field. The site's closure days
    around the booking come with it (selectors.bookable_get)."""
    model, field = (Room, "room") if "room" in data else (Desk, "desk")
    try:
        resource = selectors.bookable_get(model, data[field], during=(data["start"], data["end"]))
    except model.DoesNotExist:
        raise serializers.ValidationError({field: [f"No such {field}."]}) from None
    return {field: resource}


class BookingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Your bookings (staff: every booking of their site). POST books, PATCH re-times, DELETE cancels."""

    serializer_class = BookingOutputSerializer
    permission_classes = [HasPerson]
    filterset_class = BookingFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.booking_list_for(person=person_of(self.request.user)).order_by("start", "id")

    @extend_schema(
        request=BookingCreateInputSerializer,
        responses={
            201: OpenApiResponse(
                BookingOutputSerializer, description="The booking; a series adds `occurrences` and `skipped`."
            ),
            **errors(409, 422),
        },
    )
    def create(self, request):
        data = BookingCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = person_of(request.user)
        common = {
            "actor": actor,
            **_resource(values),
            "start": values["start"],
            "end": values["end"],
            "title": values["title"],
            "attendees": values["attendees"],
            "organiser": values.get("organiser"),
            "override_reason": values["override_reason"],
        }
        if values.get("recurrence"):
            result = services.booking_series_create(
                **common, rrule=values["recurrence"], skip_conflicts=values["skip_conflicts"]
            )
            first = result.bookings[0]
            body = SeriesCreatedOutputSerializer(first, context={"result": result}).data
            return Response(body, status=status.HTTP_201_CREATED)
        booking = services.booking_create(**common, source=BookingSource.API)
        body = BookingOutputSerializer(booking).data
        notices = services_privacy.mentor_notices(site_id=booking.site_id, emails=booking.attendees)
        if notices:  # a member shares the meeting with a mentor: the policy's notice (labs.services_privacy)
            body["notices"] = notices
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=BookingUpdateInputSerializer, responses={200: BookingOutputSerializer, **errors(409, 422)})
    def partial_update(self, request, pk=None):
        booking = self.get_object()
        data = BookingUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        booking = services.booking_update(
            actor=person_of(request.user),
            booking=booking,
            start=values.get("start"),
            end=values.get("end"),
            title=values.get("title"),
            attendees=values.get("attendees"),
            override_reason=values.get("override_reason", ""),
        )
        return Response(BookingOutputSerializer(booking).data)

    @extend_schema(
        parameters=[OpenApiParameter("scope", str, enum=["one", "following", "all"])],
        responses={204: None, **errors(409)},
    )
    def destroy(self, request, pk=None):
        booking = self.get_object()
        data = BookingCancelInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        services.booking_cancel(actor=person_of(request.user), booking=booking, scope=data.validated_data["scope"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class FloorPlanPositionsApi(APIView):
    """Place desks and rooms on their floor's plan (staff of the floor's site): x and y in percent of the plan, null
    to take one off it. All or nothing."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="floor_plan_positions_update",
        request=PlanPositionsInputSerializer,
        responses={200: PlanPositionsOutputSerializer, **errors(400, 404)},
    )
    def put(self, request, pk: int):
        person = person_of(request.user)
        floor = Floor.objects.filter(pk=pk, site=person.site).first() if pk < 2**63 else None
        if floor is None:
            raise NotFound("No such floor.")
        data = PlanPositionsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = services.floor_plan_positions_set(
            actor=person, floor=floor, positions=[dict(p) for p in data.validated_data["positions"]]
        )
        return Response(PlanPositionsOutputSerializer(changed).data)


class BookingCheckInApi(APIView):
    """Check in to a booking (its organiser or an attendee)."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={200: BookingOutputSerializer, **errors(409, 422)})
    def post(self, request, pk: int):
        person = person_of(request.user)
        booking = selectors.booking_for_check_in(person=person, pk=pk)
        if booking is None:
            raise NotFound("No such booking.")
        booking = services.booking_check_in(actor=person, booking=booking)
        return Response(BookingOutputSerializer(booking).data)


class _RawParser(parsers.BaseParser):
    """The request body as bytes, read up to a limit (files of history are larger than Django's form limit)."""

    limit = 64 * 1024 * 1024

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(self.limit + 1) if stream is not None else b""
        if len(body) > self.limit:
            raise Invalid(f"The file is larger than {self.limit // (1024 * 1024)} MiB; split it.", code="too_large")
        return body


class CsvParser(_RawParser):
    media_type = "text/csv"


class CalendarParser(_RawParser):
    media_type = "text/calendar"


class BookingImportApi(APIView):
    """Import historical room bookings of a site (``?site=<slug>``, default the caller's) from CSV or iCalendar: all
    or nothing; overlapping or unknown rows are reported as skipped with their line (contracts/ANALYTICS.md)."""

    permission_classes = [IsStaff]
    parser_classes = [CsvParser, CalendarParser]

    @extend_schema(
        request={"text/csv": {"type": "string", "minLength": 1}, "text/calendar": {"type": "string", "minLength": 1}},
        parameters=[OpenApiParameter("site", str, required=False)],
        responses={
            200: inline_serializer(
                "BookingImportResult",
                {
                    "imported": serializers.IntegerField(),
                    "skipped": serializers.ListField(child=serializers.DictField()),
                },
            ),
            **errors(404),
        },
    )
    def post(self, request):
        person = person_of(request.user)
        slug = request.query_params.get("site") or person.site.slug
        site = Site.objects.filter(slug=slug, pk=person.site_id).first()
        if site is None:
            raise NotFound("No such site.")
        body = request.data  # another content type is a 415 here (the parsers take text/csv and text/calendar only)
        if request.content_type.split(";")[0].strip() not in ("text/csv", "text/calendar"):
            raise Invalid("Send the file as text/csv or text/calendar.", code="unsupported_media_type")
        if not isinstance(body, bytes) or not body:
            raise Invalid("The file is empty: line 1 must be the header.", code="malformed")
        result = services.bookings_import(site=site, content=body, content_type=request.content_type)
        return Response({"imported": result.imported, "skipped": result.skipped})


def _calendar_response(person) -> Response:
    body = ical.calendar_for(selectors.calendar_bookings_for(person=person), name=f"Bookings of {person}")
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="bookings.ics"'
    return response


class MyCalendarApi(ICalendarViewMixin, APIView):
    """The signed-in person's bookings as iCalendar."""

    permission_classes = [HasPerson]

    @extend_schema(responses={(200, "text/calendar"): str})
    def get(self, request):
        return _calendar_response(person_of(request.user))


class MyCalendarFeedApi(APIView):
    """POST: a new private feed URL (any earlier one stops working). DELETE: stop the feed."""

    permission_classes = [HasPerson]

    @extend_schema(request=None, responses={201: CalendarFeedOutputSerializer})
    def post(self, request):
        token = services.calendar_feed_regenerate(person=person_of(request.user))
        url = request.build_absolute_uri(reverse("bookings-api:calendar-feed", kwargs={"token": token}))
        return Response({"url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.calendar_feed_revoke(person=person_of(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarFeedApi(ICalendarViewMixin, APIView):
    """The private feed: the token in the URL is the credential (for calendar apps that cannot send headers)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/calendar"): str})
    def get(self, request, token: str):
        feed = (
            CalendarFeed.objects.select_related("person__user")
            .filter(token_digest=services.calendar_feed_token_digest(token))
            .first()
        )
        if feed is None or not feed.person.user.is_active:
            raise Http404
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
        return _calendar_response(feed.person)


__all__ = [
    "BookingCheckInApi",
    "BookingImportApi",
    "BookingViewSet",
    "CalendarFeedApi",
    "DeskViewSet",
    "MyCalendarApi",
    "MyCalendarFeedApi",
    "RoomViewSet",
]
