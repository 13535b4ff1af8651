from django.urls import path
from rest_framework.routers import SimpleRouter

from bookings.api import views

app_name = "bookings-api"

router = SimpleRouter()
router.register("rooms", views.RoomViewSet, basename="room")
router.register("desks", views.DeskViewSet, basename="desk")
router.register("bookings", views.BookingViewSet, basename="booking")

urlpatterns = [
    path("bookings/import/", views.BookingImportApi.as_view(), name="booking-import"),
    path("bookings/<int:pk>/check-in/", views.BookingCheckInApi.as_view(), name="booking-check-in"),
    path("floors/<int:pk>/plan-positions/", views.FloorPlanPositionsApi.as_view(), name="floor-plan-positions"),
    path("me/calendar.ics", views.MyCalendarApi.as_view(), name="my-calendar"),
    path("me/calendar-feed/", views.MyCalendarFeedApi.as_view(), name="my-calendar-feed"),
    path("calendar/feeds/<str:token>.ics", views.CalendarFeedApi.as_view(), name="calendar-feed"),
    *router.urls,
]
