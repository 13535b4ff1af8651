"""The OpenAPI schema says what the server does: every 4xx an operation can answer, and the rules it enforces.

``AutoSchema`` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) adds to each operation the error answers every view of that
kind can give, all with the one error body ``{"detail", "code"}`` (plus field errors on a 400):

- 400 ``invalid``: every operation (malformed JSON, a NUL byte in the URL, a bad query or body);
- 401 and 403: every operation that needs a signed-in caller (403 also when a role or CSRF check fails);
- 404 ``not_found``: operations with a path parameter, and paginated lists (a page past the end);
- anything else a view can answer (409 ``conflict``, 422 ``rule_violation``, 429 ``throttled``, a 401 from a key
  of its own) is declared on the view with ``errors(...)``.

A serializer states a rule across its fields that JSON Schema can express (``room`` xor ``desk``) in a
``schema_rules`` class attribute, merged into its component.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

DESCRIPTIONS = {
    400: "`invalid`: the request is malformed or a field is wrong (field errors are listed by field name).",
    401: "`not_authenticated` / `authentication_failed`: no valid credentials.",
    403: "`forbidden`: the caller may not do this (role, company, CSRF).",
    404: "`not_found`: no such object, or another company's.",
    409: "`conflict`: the change conflicts with the current state (an overlapping booking, an ended visit...).",
    422: "`rule_violation`: a booking rule was broken (opening hours, how far ahead, length...).",
    429: "`throttled`: too many attempts; try again later.",
}


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a human ``detail`` and a stable ``code``; a 400 may add ``{"field": ["..."]}``."""

    detail = serializers.CharField()
    code = serializers.CharField()


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers ``codes`` for ``@extend_schema(responses={200: ..., **errors(409, 422)})``."""
    return {code: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]) for code in codes}


class AutoSchema(openapi.AutoSchema):
    def _error_codes(self) -> set[int]:
        codes = {400}
        if self.view.get_authenticators() and not all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        ):
            codes |= {401, 403}
        paginated = self._is_list_view() and self._get_paginator() is not None
        if "{" in self.path or paginated or len(self.view.get_renderers()) > 1:
            codes.add(404)  # no such object, a page past the end, an unknown ?format=
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in sorted(self._error_codes()):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]), str(code), ["application/json"]
                )
        return dict(sorted(responses.items()))

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        rules = getattr(serializer, "schema_rules", None)
        if rules and direction == "request":
            schema = {**schema, **rules}
        return schema
