"""Core API views: thin, each calling one service or selector."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from labs import privacy, services, services_privacy
from labs.api.schema import errors
from labs.api.serializers import (
    ConsentsInputSerializer,
    ConsentsOutputSerializer,
    EraseInputSerializer,
    EraseOutputSerializer,
    ErrorOutputSerializer,
    MeOutputSerializer,
    MeUpdateInputSerializer,
    PersonCreateInputSerializer,
    PersonOutputSerializer,
    PersonUpdateInputSerializer,
    SiteSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
)
from labs.filtersets import PersonFilterSet
from labs.health import health_report
from labs.models import Company, ConsentChannel, Person, Site
from labs.permissions import HasPerson, IsStaff, person_of, scope_queryset

_HEALTH = inline_serializer("Health", {"status": serializers.CharField(), "checks": serializers.DictField()})


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _HEALTH, 503: OpenApiResponse(_HEALTH, description="A dependency is down.")})
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

    @extend_schema(request=TokenInputSerializer, responses={200: TokenOutputSerializer, **errors(401, 429)})
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


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutputSerializer, description=description)


_EXPORT = inline_serializer(
    "PersonalDataExport",
    {
        "person": serializers.IntegerField(),
        "generated_at": serializers.DateTimeField(),
        "sections": serializers.DictField(
            help_text="One list per source (app): rows of {model, id, fields: {name: {value, category, purposes, "
            "legal_basis, retention, retention_days, roles}}}."
        ),
        "kept_after_erasure": serializers.DictField(child=serializers.CharField()),
    },
)


class MeExportApi(APIView):
    """All personal data held about you, as JSON (GDPR Art. 15 and 20): every declared field of every app with its
    value, category, purposes, legal basis and retention; what an erasure would keep is listed too."""

    permission_classes = [HasPerson]

    @extend_schema(responses={200: _EXPORT, 401: _error("Not signed in.")})
    def get(self, request):
        person = person_of(request.user)
        return Response(services_privacy.person_export(actor=person, person=person))


class MeEraseApi(APIView):
    """Erase your account and your personal data everywhere (re-authenticated with your password); afterwards the
    account cannot sign in. What the law requires to keep stays, under a pseudonym (see the export)."""

    permission_classes = [HasPerson]

    @extend_schema(
        request=EraseInputSerializer,
        responses={
            202: EraseOutputSerializer,
            400: _error("No password."),
            401: _error("Not signed in."),
            403: _error("Wrong password."),
            429: _error("Too many wrong passwords."),
        },
    )
    def post(self, request):
        data = EraseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = person_of(request.user)
        services_privacy.person_erase_self(
            person=person, password=data.validated_data["password"], ip=services.client_ip(request)
        )
        person.refresh_from_db()
        return Response({"status": "erased", "erased_at": person.erased_at}, status=status.HTTP_202_ACCEPTED)


def _consents_body(person: Person) -> dict:
    current = services_privacy.consents_current(person=person)
    consents = [
        {
            "purpose": purpose,
            "granted": bool(row and row.granted),
            "text_version": row.text_version if row else services_privacy.CONSENT_TEXT_VERSION,
            "at": row.at if row else None,
            "channel": row.channel if row else None,
        }
        for purpose, row in current.items()
    ]
    history = [
        {"purpose": c.purpose, "granted": c.granted, "text_version": c.text_version, "at": c.at, "channel": c.channel}
        for c in person.consents.order_by("-at", "-id")
    ]
    return ConsentsOutputSerializer({"consents": consents, "history": history}).data


class MeConsentsApi(APIView):
    """Your consents by purpose (marketing, community, personalisation) and their history. PUT
    ``{"consents": [{"purpose", "granted"}]}``: withdrawing is the same one call as granting."""

    permission_classes = [HasPerson]

    @extend_schema(responses={200: ConsentsOutputSerializer, 401: _error("Not signed in.")})
    def get(self, request):
        return Response(_consents_body(person_of(request.user)))

    @extend_schema(
        request=ConsentsInputSerializer,
        responses={200: ConsentsOutputSerializer, 400: _error("Invalid input."), 401: _error("Not signed in.")},
    )
    def put(self, request):
        data = ConsentsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = person_of(request.user)
        choices = {c["purpose"]: c["granted"] for c in data.validated_data["consents"]}
        services_privacy.consents_set(person=person, choices=choices, channel=ConsentChannel.API)
        return Response(_consents_body(person))


_NOT_SIGNED_IN = _error("Not signed in.")
_NOT_STAFF = _error("Not staff.")


def _company_at(site: Site, company_id: int | None) -> Company | None:
    if company_id is None:
        return None
    company = Company.objects.filter(pk=company_id, site=site).first()
    if company is None:
        raise serializers.ValidationError({"company": ["No such company at this site."]})
    return company


_NO_SUCH_PERSON = _error("No such person at your site.")


@extend_schema_view(
    list=extend_schema(responses={200: PersonOutputSerializer(many=True), 401: _NOT_SIGNED_IN, 403: _NOT_STAFF}),
    retrieve=extend_schema(
        responses={200: PersonOutputSerializer, 401: _NOT_SIGNED_IN, 403: _NOT_STAFF, 404: _NO_SUCH_PERSON}
    ),
)
class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People of the caller's site, for its staff. POST onboards a person; PATCH changes one.

    Every change goes through the person services, so the API does what the admin does: a role or company change
    revokes badges and ends tokens and sessions; ``is_active: false`` also cancels hosted visits; a membership end
    date that has come revokes badges. Another site's person is a 404.
    """

    serializer_class = PersonOutputSerializer
    permission_classes = [IsStaff]
    filterset_class = PersonFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Person.objects.select_related("user", "company", "site")

    def get_queryset(self):
        people = scope_queryset(self.queryset, person_of(self.request.user), site_field="site")
        return people.order_by("user__last_name", "user__first_name", "id")

    @extend_schema(
        request=PersonCreateInputSerializer,
        responses={
            201: PersonOutputSerializer,
            400: _error("Invalid input, with field errors (e.g. an email in use, a company of another site)."),
            401: _NOT_SIGNED_IN,
            403: _error("Not staff, or not staff of that site."),
        },
    )
    def create(self, request):
        """Onboard a person at your site. The username is the email, lowercased; without a password the person is
        emailed a link to choose one."""
        data = PersonCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        site = Site.objects.filter(slug=values["site"]).first()
        if site is None:
            raise serializers.ValidationError({"site": ["No such site."]})
        person = services.person_onboard(
            actor=person_of(request.user),
            email=values["email"],
            first_name=values["first_name"],
            last_name=values["last_name"],
            role=values["role"],
            site=site,
            company=_company_at(site, values.get("company")),
            password=values.get("password"),
        )
        return Response(PersonOutputSerializer(person).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PersonUpdateInputSerializer,
        responses={
            200: PersonOutputSerializer,
            400: _error("Invalid input, with field errors; a field that cannot change here is one."),
            401: _NOT_SIGNED_IN,
            403: _error("Not staff, or a change of your own role or of your own account's activity."),
            404: _NO_SUCH_PERSON,
            409: _error("The person's data was erased: the record does not change."),
        },
    )
    def retrieve(self, request, *args, **kwargs):
        person = self.get_object()
        services_privacy.personal_data_access_log(
            actor=person_of(request.user), subject=person, door="api.people.detail"
        )
        return Response(PersonOutputSerializer(person).data)

    @extend_schema(
        request=None,
        responses={
            202: EraseOutputSerializer,
            401: _NOT_SIGNED_IN,
            403: _error("Not staff, or your own account."),
            404: _NO_SUCH_PERSON,
        },
    )
    @action(detail=True, methods=["post"], url_path="erase")
    def erase(self, request, pk=None):
        """Erase the person's data on their request to the operator (as ``POST /api/v1/me/erase/`` does)."""
        person = self.get_object()
        services_privacy.person_erase(actor=person_of(request.user), person=person)
        person.refresh_from_db()
        return Response({"status": "erased", "erased_at": person.erased_at}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: _EXPORT, 401: _NOT_SIGNED_IN, 403: _NOT_STAFF, 404: _NO_SUCH_PERSON})
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        """The person's export (on their request to the operator); the access is logged."""
        person = self.get_object()
        return Response(
            services_privacy.person_export(actor=person_of(request.user), person=person, door="api.people.export")
        )

    def partial_update(self, request, pk=None):
        person = self.get_object()
        data = PersonUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "company" in changes:
            changes["company"] = _company_at(person.site, changes["company"])
        person = services.person_update(actor=person_of(request.user), person=person, changes=changes)
        return Response(PersonOutputSerializer(person).data)
