from django.urls import path
from rest_framework.routers import SimpleRouter

from labs.api import views

app_name = "labs-api"

router = SimpleRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("people", views.PersonViewSet, basename="person")

urlpatterns = [
    path("health/", views.HealthApi.as_view(), name="health"),
    path("auth/token/", views.AuthTokenApi.as_view(), name="auth-token"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("me/export/", views.MeExportApi.as_view(), name="me-export"),
    path("me/erase/", views.MeEraseApi.as_view(), name="me-erase"),
    path("me/consents/", views.MeConsentsApi.as_view(), name="me-consents"),
    path("privacy/register/", views.PrivacyRegisterApi.as_view(), name="privacy-register"),
    *router.urls,
]
