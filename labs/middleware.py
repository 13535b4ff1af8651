"""Cross-cutting HTTP behaviour."""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import timezone


class PersonalDataNoStoreMiddleware:
    """Responses that may carry personal data are never stored by browsers or proxies.

    That is every API response and every page shown to a signed-in person. Public pages (sign-in, static files,
    the health check) stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if request.path.startswith("/api/") and request.path != "/api/v1/health/" or signed_in:
            response["Cache-Control"] = "no-store, private"
            response["Pragma"] = "no-cache"
        return response


class RejectNulBytesMiddleware:
    """A NUL byte in the path or query string is never meaningful; PostgreSQL cannot store or compare one.

    Refusing it here with a 400 keeps every URL lookup and filter from turning it into a database error (a 500).
    Request bodies are checked by the serializers (DRF's CharField refuses NUL characters).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.GET.urlencode():
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "NUL bytes are not allowed in URLs.", "code": "invalid"}, status=400)
            return HttpResponseBadRequest("NUL bytes are not allowed in URLs.")
        return self.get_response(request)


class SiteTimeZoneMiddleware:
    """Pages (portal, admin) show and take times in the signed-in person's site's time zone.

    Django converts aware datetimes to the *current* time zone when it renders a template or parses a form; without
    this the project's UTC default leaks into every page ("20:23 local time" at 21:23 in Copenhagen). The API is left
    alone: it speaks ISO 8601 with explicit offsets (in UTC), whoever asks and however they authenticate.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from labs.permissions import person_of

        person = None if request.path.startswith("/api/") else person_of(getattr(request, "user", None))
        if person is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(person.site.tz)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
