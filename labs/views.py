"""Error pages: JSON under /api/ (never HTML for an API client), templates elsewhere."""

from django.views import defaults

from labs.api import exceptions


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    return exceptions.json_bad_request(request) if _is_api(request) else defaults.bad_request(request, exception)


def forbidden(request, exception=None):
    return exceptions.json_forbidden(request) if _is_api(request) else defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    return exceptions.json_not_found(request) if _is_api(request) else defaults.page_not_found(request, exception)


def server_error(request):
    return exceptions.json_server_error(request) if _is_api(request) else defaults.server_error(request)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return exceptions.json_csrf_failure(request, reason)
    from django.views.csrf import csrf_failure as default

    return default(request, reason)
