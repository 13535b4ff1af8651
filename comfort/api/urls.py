from django.urls import path
from rest_framework.routers import SimpleRouter

from comfort.api import views

app_name = "comfort-api"

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="device")
router.register("commands", views.CommandViewSet, basename="command")

urlpatterns = [
    path("me/preferences/", views.MyPreferencesApi.as_view(), name="my-preferences"),
    path("desks/<int:pk>/check-in/", views.DeskCheckInApi.as_view(), name="desk-check-in"),
    path("desks/<int:pk>/check-out/", views.DeskCheckOutApi.as_view(), name="desk-check-out"),
    path("devices/<str:id>/credentials/", views.DeviceCredentialsApi.as_view(), name="device-credentials"),
    *router.urls,
]
