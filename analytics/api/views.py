"""Analytics API: staff of a site, their site's aggregates only. Thin views over the services and selectors."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import report, selectors, services
from analytics.api.serializers import (
    PeriodQuerySerializer,
    RunCreateInputSerializer,
    RunOutputSerializer,
    default_period,
)
from labs.api import fields
from labs.api.schema import errors
from labs.errors import NotFound
from labs.permissions import IsStaff, person_of

_DATE = {"type": "string", "format": "date"}
_PERIOD = [
    OpenApiParameter("site", {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$", "maxLength": 40}, required=False),
    OpenApiParameter("from", _DATE, required=False, description="YYYY-MM-DD, local (years 2-9998)"),
    OpenApiParameter("to", _DATE, required=False, description="YYYY-MM-DD, local (years 2-9998)"),
]
# 404 `not_found` / `no_run`: another site, or no finished run covers the period yet.
_NO_RUN = errors(404)
ROOM_OUTPUT = [*report.ROOM_FIELDS, "band"]


def _report(request) -> dict:
    query = PeriodQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    site = services.site_for_staff(actor=person_of(request.user), slug=values.get("site"))
    date_from, date_to = default_period(values, site.tz)
    found = selectors.report_for(site=site, date_from=date_from, date_to=date_to)
    if found is None:
        raise NotFound(
            "No finished analytics run covers this period; start one with POST /api/v1/analytics/runs/.",
            code="no_run",
        )
    return found


def rooms_table(found: dict) -> list[dict]:
    return [{name: row.get(name) for name in ROOM_OUTPUT} for row in found["rooms"]]


class RunCreateApi(APIView):
    """Start a utilisation job for a site and period; follow it at ``/analytics/runs/{id}/``."""

    permission_classes = [IsStaff]

    @extend_schema(
        request=inline_serializer(
            "AnalyticsRunInput",
            {
                "site": serializers.SlugField(required=False, max_length=40),
                "from": fields.DateField(),
                "to": fields.DateField(),
            },
        ),
        responses={202: RunOutputSerializer, **errors(404)},
    )
    def post(self, request):
        data = RunCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        site = services.site_for_staff(actor=person_of(request.user), slug=values.get("site"))
        run = services.run_create(site=site, date_from=values["date_from"], date_to=values["date_to"])
        return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=RunOutputSerializer)
    def get(self, request, pk: int):
        run = selectors.run_for(actor=person_of(request.user), pk=pk)
        if run is None:
            raise NotFound("No such run.")
        return Response(RunOutputSerializer(run).data)


class RoomsApi(APIView):
    """Per-room figures, peak concurrency, unmet demand, heatmap, weekly trend and recommendations of a period."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=_PERIOD,
        responses={200: inline_serializer("AnalyticsRooms", {"rooms": serializers.ListField()}), **_NO_RUN},
    )
    def get(self, request):
        found = _report(request)
        body = {
            "site": found["site"],
            "from": found["from"],
            "to": found["to"],
            "timezone": found["timezone"],
            "k_anonymity": found["k_anonymity"],
            "rooms": rooms_table(found),
            "peak_concurrency": found["peak_concurrency"],
            "unmet_demand": found["unmet_demand"],
            "heatmap": found["heatmap"],
            "weeks": found["weeks"],
            "recommendations": found["recommendations"],
        }
        return Response(body)


def rooms_csv(found: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROOM_OUTPUT, lineterminator="\n")
    writer.writeheader()
    for row in rooms_table(found):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


class RoomsCsvApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(parameters=_PERIOD, responses={(200, "text/csv"): str, **_NO_RUN})
    def get(self, request):
        found = _report(request)
        response = HttpResponse(rooms_csv(found), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="rooms-{found["site"]}-{found["from"]}-{found["to"]}.csv"'
        )
        return response


class RecommendationsApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        parameters=_PERIOD,
        responses={
            200: inline_serializer("AnalyticsRecommendations", {"kind": serializers.CharField()}, many=True),
            **_NO_RUN,
        },
    )
    def get(self, request):
        return Response(_report(request)["recommendations"])
