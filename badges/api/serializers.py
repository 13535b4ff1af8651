"""Input and output shapes of the badges API. Datetimes go out in the site's time zone (with its offset)."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from badges import selectors
from badges.choices import BadgeKind, CredentialType
from badges.models import Badge, Visit
from labs.api import fields
from labs.api.fields import AwareDateTimeField
from labs.models import Site

MAX_ID = 2**63 - 1
# 4 to 16 bytes as hex pairs, optionally separated by ":", "-" or a space (badges.codes.normalise_card_uid).
CARD_UID = RegexValidator(
    r"^[0-9A-Fa-f]{2}(?:[:\- ]?[0-9A-Fa-f]{2}){3,15}$", "A card UID is 4 to 16 bytes in hex, e.g. 04:A2:2B:1C."
)


def _local(value, site) -> str | None:
    return value.astimezone(site.tz).isoformat() if value is not None else None


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "a site's slug or id"})
class SiteRefField(serializers.Field):
    """A site by slug (``"cph"``) or by id."""

    default_error_messages = {"invalid": "Give a site slug or id.", "does_not_exist": "No such site."}

    def to_internal_value(self, data) -> Site:
        site = None
        if isinstance(data, int) and not isinstance(data, bool):
            site = Site.objects.filter(pk=data).first() if 0 < data <= MAX_ID else None
        elif isinstance(data, str) and re.fullmatch(r"[0-9]{1,18}", data, re.ASCII):
            site = Site.objects.filter(pk=int(data)).first()
        elif isinstance(data, str) and re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", data, re.ASCII):
            site = Site.objects.filter(slug=data).first()
        else:
            self.fail("invalid")
        if site is None:
            self.fail("does_not_exist")
        return site

    def to_representation(self, value: Site) -> str:
        return value.slug


# --- badges ----------------------------------------------------------------------------------------------------


class BadgeOutputSerializer(serializers.ModelSerializer):
    """A badge without its secret; a card shows only its UID's last four digits."""

    class Meta:
        model = Badge
        fields = [
            "id",
            "kind",
            "status",
            "person",
            "visit",
            "valid_from",
            "valid_until",
            "card_uid_hint",
            "issued_at",
            "revoked_at",
            "status_reason",
        ]


class MyBadgeOutputSerializer(serializers.ModelSerializer):
    """``code`` is the current rotating QR value (null when the badge cannot be used now); ``refresh_in_s`` says
    when it changes."""

    code = serializers.SerializerMethodField()
    refresh_in_s = serializers.SerializerMethodField()

    class Meta:
        model = Badge
        fields = ["id", "kind", "status", "valid_from", "valid_until", "code", "refresh_in_s"]

    def get_code(self, obj) -> str | None:
        return selectors.badge_current_code(badge=obj, at=self.context.get("at"))

    def get_refresh_in_s(self, obj) -> int | None:
        from badges import codes

        at = self.context.get("at")
        return codes.seconds_left_in_step(at) if at and obj.kind == BadgeKind.DIGITAL else None


class BadgeIssueInputSerializer(serializers.Serializer):
    """A card needs its ``card_uid``; a digital badge has none (the schema says so with ``oneOf``)."""

    schema_rules = {
        "oneOf": [
            {"properties": {"kind": {"type": "string", "pattern": "^card$"}}, "required": ["card_uid"]},
            {"properties": {"kind": {"type": "string", "pattern": "^digital$"}}, "not": {"required": ["card_uid"]}},
        ]
    }

    person = fields.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=BadgeKind.choices)
    card_uid = fields.CharField(max_length=64, required=False, validators=[CARD_UID])
    valid_until = AwareDateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs["kind"] == BadgeKind.CARD and not attrs.get("card_uid"):
            raise serializers.ValidationError({"card_uid": ["A card needs its card_uid."]})
        if attrs["kind"] == BadgeKind.DIGITAL and attrs.get("card_uid"):
            raise serializers.ValidationError({"card_uid": ["Only a card has a card_uid."]})
        return attrs


class BadgeStatusInputSerializer(serializers.Serializer):
    reason = serializers.RegexField(r"^[a-z0-9_]{1,64}$", required=False)


# --- visits ----------------------------------------------------------------------------------------------------


class VisitBadgeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Badge
        fields = ["id", "kind", "status", "valid_from", "valid_until"]


class VisitOutputSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.slug")
    timezone = serializers.CharField(source="site.timezone")
    host = serializers.SerializerMethodField()
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    checked_in_at = serializers.SerializerMethodField()
    checked_out_at = serializers.SerializerMethodField()
    state = serializers.CharField()
    badges = VisitBadgeSerializer(many=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "name",
            "email",
            "purpose",
            "site",
            "timezone",
            "host",
            "start",
            "end",
            "state",
            "checked_in_at",
            "checked_out_at",
            "badges",
        ]

    def get_host(self, obj) -> dict:
        return {"id": obj.host_id, "name": obj.host.display_name}

    def get_start(self, obj) -> str:
        return _local(obj.start, obj.site)

    def get_end(self, obj) -> str:
        return _local(obj.end, obj.site)

    def get_checked_in_at(self, obj) -> str | None:
        return _local(obj.checked_in_at, obj.site)

    def get_checked_out_at(self, obj) -> str | None:
        return _local(obj.checked_out_at, obj.site)


class VisitCreateInputSerializer(serializers.Serializer):
    name = fields.CharField(max_length=160)
    email = fields.EmailField(max_length=254)
    site = SiteRefField()
    start = AwareDateTimeField()
    end = AwareDateTimeField(
        error_messages={"required": "A visit needs an end (at most 24 hours).", "null": "A visit needs an end."}
    )
    purpose = fields.CharField(max_length=200, required=False, allow_blank=True, default="")


class VisitCardInputSerializer(serializers.Serializer):
    card_uid = fields.CharField(max_length=64, validators=[CARD_UID])


# --- access decisions ------------------------------------------------------------------------------------------


class CredentialSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=CredentialType.choices)
    value = fields.CharField(max_length=512, trim_whitespace=False, single_line=False)  # any scan is answered


class AccessCheckInputSerializer(serializers.Serializer):
    reader = fields.CharField(max_length=64)
    credential = CredentialSerializer()


class AccessCheckOutputSerializer(serializers.Serializer):
    allow = serializers.BooleanField()
    reason = serializers.CharField()
    ttl_s = serializers.IntegerField()
    decision = serializers.IntegerField(help_text="The audit row's id.")
