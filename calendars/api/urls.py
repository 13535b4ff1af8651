from django.urls import path

from calendars.api import microsoft, views

app_name = "calendars-api"

urlpatterns = [
    path("calendars/connections/", views.ConnectionListCreateApi.as_view(), name="connections"),
    path("calendars/connections/<int:pk>/", views.ConnectionDetailApi.as_view(), name="connection"),
    path("calendars/connections/<int:pk>/resources/", views.ConnectionResourcesApi.as_view(), name="resources"),
    path("calendars/connections/<int:pk>/sync/", views.ConnectionSyncApi.as_view(), name="connection-sync"),
    path("rooms/<int:pk>/calendar/", views.RoomCalendarApi.as_view(), name="room-calendar"),
    path("calendars/google/notifications/", views.GoogleNotificationsApi.as_view(), name="google-notifications"),
    path(
        "calendars/microsoft/notifications/",
        microsoft.MicrosoftNotificationsApi.as_view(),
        name="microsoft-notifications",
    ),
    path("me/calendar/", views.MyCalendarApi.as_view(), name="my-calendar"),
    path("calendars/microsoft/lifecycle/", microsoft.MicrosoftLifecycleApi.as_view(), name="microsoft-lifecycle"),
]
