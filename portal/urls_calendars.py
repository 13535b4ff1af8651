"""Portal pages for calendar sync health (owned by the calendars work; included by portal/urls.py)."""

from django.urls import path

from portal import views_calendars

urlpatterns = [
    path("calendars/", views_calendars.calendars, name="calendars"),
    path("calendars/connections/<int:pk>/sync/", views_calendars.connection_sync, name="calendars-connection-sync"),
    path("calendars/rooms/<int:pk>/sync/", views_calendars.room_sync, name="calendars-room-sync"),
]
