from django.urls import path

from calendars.api import microsoft

app_name = "calendars-api"

urlpatterns = [
    path(
        "calendars/microsoft/notifications/",
        microsoft.MicrosoftNotificationsApi.as_view(),
        name="microsoft-notifications",
    ),
    path("calendars/microsoft/lifecycle/", microsoft.MicrosoftLifecycleApi.as_view(), name="microsoft-lifecycle"),
]
