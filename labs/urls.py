from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from labs import views


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the strict CSP: the bundle from drf-spectacular-sidecar's static files, its set-up script from
    this same URL (``?script``) instead of an inline ``<script>``, and a template without the inline ``<style>``."""

    template_name = "labs/swagger_ui.html"


api_v1 = [
    path("", include("labs.api.urls")),
    path("", include("bookings.api.urls")),
    path("", include("comfort.api.urls")),
    path("", include("badges.api.urls")),
    path("", include("calendars.api.urls")),
    path("", include("analytics.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    # The language switcher posts here (Django's set_language: a cookie, then back to the page it came from).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("portal.urls")),
]

handler400 = views.bad_request
handler403 = views.forbidden
handler404 = views.not_found
handler500 = views.server_error
