"""The member's own calendar (CALENDAR.md, "Personal calendars"); included by portal/urls.py."""

from django.urls import path

from portal import views_my_calendar

urlpatterns = [
    path("calendar/", views_my_calendar.my_calendar, name="my-calendar"),
    path("calendar/connect/<str:provider>/", views_my_calendar.connect, name="my-calendar-connect"),
    path("calendar/callback/<str:provider>/", views_my_calendar.callback, name="my-calendar-callback"),
    path("calendar/disconnect/", views_my_calendar.disconnect, name="my-calendar-disconnect"),
]
