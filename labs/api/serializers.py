from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.api import fields
from labs.choices import Role
from labs.models import Company, ConsentPurpose, Person, Site


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "slug", "name", "timezone", "address"]


class CompanySerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["id", "name", "kind"]


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}],
        "description": "An e-mail address; empty for an account without one (a service account, an erased person).",
    }
)
class AccountEmailField(serializers.CharField):
    """A person's e-mail address as output: the calendar workers' account has none, nor has an erased person."""


class MeOutputSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = AccountEmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    company = CompanySerializer(allow_null=True)
    site = SiteSerializer()

    class Meta:
        model = Person
        fields = ["id", "username", "email", "first_name", "last_name", "role", "company", "site", "phone", "job_title"]


class MeUpdateInputSerializer(serializers.Serializer):
    first_name = fields.CharField(max_length=150, required=False)
    last_name = fields.CharField(max_length=150, required=False)
    phone = fields.CharField(max_length=32, required=False, allow_blank=True)
    job_title = fields.CharField(max_length=120, required=False, allow_blank=True)


class TokenInputSerializer(serializers.Serializer):
    username = fields.CharField(max_length=150)
    password = fields.CharField(
        max_length=4096, trim_whitespace=False, single_line=False, style={"input_type": "password"}
    )
    otp = fields.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="The current code of the account's authenticator app; required for accounts that have one.",
    )


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class ErrorOutputSerializer(serializers.Serializer):
    """Every 4xx: a message and a stable code; a 400 adds ``{"<field>": ["..."]}`` for each invalid field."""

    detail = serializers.CharField()
    code = serializers.CharField()


# --- People (staff) --------------------------------------------------------------------------------------------


class PersonOutputSerializer(MeOutputSerializer):
    is_active = serializers.BooleanField(source="user.is_active")

    class Meta(MeOutputSerializer.Meta):
        fields = [*MeOutputSerializer.Meta.fields, "is_active", "membership_ends_on", "created_at"]


class _StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know (a misspelt or read-only field is a 400, never silently dropped)."""

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["This field cannot be set here."] for name in unknown})
        return attrs


class PersonCreateInputSerializer(_StrictInputSerializer):
    email = serializers.EmailField(max_length=150, help_text="Also the username (lowercased).")
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    company = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Company id: required for company roles."
    )
    site = serializers.SlugField(max_length=40, help_text="Site slug: the caller's own site.")
    password = serializers.CharField(
        required=False,
        write_only=True,
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Optional: without it the person is emailed a link to choose one.",
    )


class PersonUpdateInputSerializer(_StrictInputSerializer):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    job_title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    company = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    membership_ends_on = serializers.DateField(
        required=False, allow_null=True, help_text="The day the membership ends (null: it does not end)."
    )
    is_active = serializers.BooleanField(required=False, help_text="false deactivates the account.")


# --- Data-subject rights ---------------------------------------------------------------------------------------


class EraseInputSerializer(_StrictInputSerializer):
    schema_rules = {"additionalProperties": False}
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, help_text="Your current password."
    )


class EraseOutputSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"erased"')
    erased_at = serializers.DateTimeField()


class ConsentSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    granted = fields.BooleanField()
    text_version = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(read_only=True, allow_null=True)
    channel = serializers.CharField(read_only=True, allow_null=True)


class ConsentsOutputSerializer(serializers.Serializer):
    consents = ConsentSerializer(many=True)
    history = ConsentSerializer(many=True)


class ConsentChoiceSerializer(serializers.Serializer):
    schema_rules = {"additionalProperties": False}
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    granted = fields.BooleanField()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["This field cannot be set here."] for name in unknown})
        return super().to_internal_value(data)


class ConsentsInputSerializer(_StrictInputSerializer):
    schema_rules = {"additionalProperties": False}
    consents = ConsentChoiceSerializer(many=True, help_text="The last choice per purpose counts; empty: no change.")
