"""Cross-cutting HTTP behaviour."""

from __future__ import annotations


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
