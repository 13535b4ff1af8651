"""Cross-cutting HTTP behaviour."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve, reverse
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


# What a view may set on its response to change the policy (django-csp's decorators): such a response, or a request
# that asked for a nonce, gets django-csp's own per-response build.
_CSP_RESPONSE_CHANGES = (
    *("_csp_config", "_csp_update", "_csp_replace"),
    *("_csp_config_ro", "_csp_update_ro", "_csp_replace_ro"),
)


@lru_cache(maxsize=2)
def _settings_policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    """The policy header built from the settings alone, and the URL prefixes it excludes."""
    name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
    policy = getattr(settings, name, None)
    return build_policy(report_only=report_only), tuple((policy or {}).get("EXCLUDE_URL_PREFIXES") or ())


@receiver(setting_changed)
def _csp_setting_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policy.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once per process instead of on every response.

    django-csp builds the header anew for each response (a dataclass turned into a dict, every directive copied and
    joined): about a tenth of a millisecond, the costliest middleware of an API request (docs/scaling.md). The
    policy only changes with the settings, a nonce or a view's own changes (``csp_update`` and the like); those
    responses still get django-csp's own build, the rest its cached result, the same header.
    """

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _CSP_RESPONSE_CHANGES)
            or (response.status_code in (404, 500) and settings.DEBUG)
        ):
            return super().process_response(request, response)
        for report_only, header, exempt in (
            (False, HEADER, "_csp_exempt"),
            (True, HEADER_REPORT_ONLY, "_csp_exempt_ro"),
        ):
            value, excluded = _settings_policy(report_only)
            if (
                value
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = value
        # as django-csp does: a nonce asked for after the header is written is an error, not a silent gap
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
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


# --- Sessions: idle timeout and the second factor -----------------------------------------------------------------

IDLE_SESSION_KEY = "last_seen"
IDLE_RESOLUTION_SECONDS = 60  # the session is written at most once a minute for this, not on every request


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _is_admin(request) -> bool:
    return request.path.startswith(reverse("admin:index"))


def _redirect(request, url: str) -> HttpResponse:
    """A redirect that also works for htmx fragments: htmx follows ``HX-Redirect`` with a full page load."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _with_next(url: str, request, **extra) -> str:
    return f"{url}?{urlencode({'next': request.get_full_path(), **extra})}"


def session_idle_limit(user):
    """How long a session may stay unused: SESSION_IDLE_STAFF for staff, SESSION_IDLE for everyone else."""
    from labs.second_factor import second_factor_required

    return settings.SESSION_IDLE_STAFF if second_factor_required(user) else settings.SESSION_IDLE


class SessionIdleTimeoutMiddleware:
    """A signed-in session unused for longer than its idle limit is signed out at its next request.

    Enforced here, on the server, from the time of the session's last request (kept in the session to the minute),
    not by the cookie's age. Pages then go to the sign-in page (and back after it); the API answers 401
    ``session_expired`` unless the request carries its own credentials (an ``Authorization`` header).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            last_seen = request.session.get(IDLE_SESSION_KEY)
            limit = session_idle_limit(user)
            if isinstance(last_seen, int) and self._now() - last_seen > limit.total_seconds():
                logout(request)
                if not _is_api(request):
                    return _redirect(request, _with_next(resolve_url(settings.LOGIN_URL), request, idle="1"))
                if "HTTP_AUTHORIZATION" not in request.META:
                    minutes = int(limit.total_seconds() // 60)
                    detail = f"Signed out after {minutes} minutes without activity; sign in again."
                    return JsonResponse({"detail": detail, "code": "session_expired"}, status=401)
        response = self.get_response(request)
        # After the view, so that the request that signs someone in starts their clock. Only signed-in sessions: a
        # token-authenticated API request must not create one.
        if hasattr(request, "session") and SESSION_KEY in request.session:
            now, last_seen = self._now(), request.session.get(IDLE_SESSION_KEY)
            if not isinstance(last_seen, int) or now - last_seen >= IDLE_RESOLUTION_SECONDS:
                request.session[IDLE_SESSION_KEY] = now
        return response

    @staticmethod
    def _now() -> int:
        return int(timezone.now().timestamp())


class SecondFactorMiddleware:
    """Staff without a verified second factor reach only the sign-in, sign-out and enrolment pages.

    Staff without an authenticator are sent to set one up (the admin's page under /admin/, the portal's elsewhere),
    and the API answers 403 ``second_factor_enrolment_required``. A session of an account that has an authenticator
    but never passed it (one from before it was required) is signed out.
    """

    EXEMPT = frozenset(
        {
            "portal:sign-in",
            "portal:sign-in-code",
            "portal:sign-out",
            "portal:two-factor",
            "portal:favicon",
            "set_language",
            "admin:two-factor",
            "admin:logout",
            "labs-api:health",
        }
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from labs.second_factor import second_factor_device, second_factor_required

        user = getattr(request, "user", None)
        if not second_factor_required(user) or user.is_verified():
            return self.get_response(request)
        try:
            view_name = resolve(request.path_info).view_name
        except Resolver404:
            return self.get_response(request)
        if view_name in self.EXEMPT:
            return self.get_response(request)
        if second_factor_device(user=user) is not None:
            logout(request)
            if _is_api(request):
                detail = "Sign in again with the code from your authenticator app."
                return JsonResponse({"detail": detail, "code": "otp_required"}, status=401)
            sign_in = reverse("admin:login") if _is_admin(request) else resolve_url(settings.LOGIN_URL)
            return _redirect(request, _with_next(sign_in, request))
        if _is_api(request):
            detail = "Staff need two-factor authentication: set up an authenticator in the portal first."
            return JsonResponse({"detail": detail, "code": "second_factor_enrolment_required"}, status=403)
        enrol = reverse("admin:two-factor") if _is_admin(request) else resolve_url(settings.SECOND_FACTOR_ENROL_URL)
        return _redirect(request, _with_next(enrol, request))
