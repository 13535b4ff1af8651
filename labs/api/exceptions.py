"""One exception handler: every API error is JSON with a stable ``code``; bad input never becomes a 500."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labs.errors import DomainError

logger = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "rule_violation",
    429: "throttled",
}


# A slot already taken (409) and a broken booking rule (422) are answers the client asked for, not faults: each is
# logged once at INFO with its stable code, instead of Django's WARNING for every 4xx ("Conflict: /api/v1/bookings/"),
# which under contention is a warning per refused request. Other 4xx keep Django's WARNING.
_OUTCOMES_LOGGED_AT_INFO = frozenset({409, 422})


def _validation_payload(detail) -> dict:
    if isinstance(detail, dict):
        return {"detail": "Invalid input.", "code": "invalid", **detail}
    if isinstance(detail, list):
        return {"detail": " ".join(str(d) for d in detail) or "Invalid input.", "code": "invalid"}
    return {"detail": str(detail), "code": "invalid"}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response(exc.as_dict(), status=exc.status_code)
        request = context.get("request")
        if response.status_code in _OUTCOMES_LOGGED_AT_INFO and request is not None:
            logger.info("%s %s: %s %s", request.method, request.path, response.status_code, response.data.get("code"))
            response._has_been_logged = True  # django.utils.log.log_response: logged here already
        return response
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(_validation_payload(detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer with handler500 (JSON under /api/)
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_payload(exc.detail)
        return response
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
    code = getattr(getattr(response.data, "get", lambda _k: None)("detail"), "code", None)
    if response.status_code in {401, 403} and code in {"not_authenticated", "authentication_failed"}:
        stable = code
    else:
        stable = _CODES_BY_STATUS.get(response.status_code, code or "error")
    response.data = {"detail": str(detail), "code": stable}
    return response


def json_not_found(request, exception=None):
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def json_server_error(request):
    return JsonResponse({"detail": "Internal error; it has been logged.", "code": "server_error"}, status=500)


def json_bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request.", "code": "invalid"}, status=400)


def json_forbidden(request, exception=None):
    return JsonResponse({"detail": "You may not do this.", "code": "forbidden"}, status=403)


def json_csrf_failure(request, reason=""):
    return JsonResponse({"detail": f"CSRF check failed: {reason}", "code": "csrf_failed"}, status=403)
