"""Portal pages for bookings (owned by the bookings work; included by portal/urls.py)."""

from django.urls import path

from portal import views_bookings, views_floor_plans

urlpatterns = [
    path("rooms/", views_bookings.room_search, name="rooms"),
    path("rooms/<int:pk>/", views_bookings.room_day, name="room-day"),
    path("desks/", views_bookings.desk_search, name="desks"),
    path("book/", views_bookings.book, name="book"),
    path("book/new/", views_bookings.book_form, name="book-form"),
    path("bookings/", views_bookings.my_bookings, name="my-bookings"),
    path("bookings/calendar-feed/", views_bookings.calendar_feed, name="calendar-feed"),
    path("bookings/<int:pk>/cancel/", views_bookings.booking_cancel, name="booking-cancel"),
    path("bookings/<int:pk>/calendar.ics", views_bookings.booking_calendar, name="booking-calendar"),
    path("bookings/<int:pk>/check-in/", views_bookings.booking_check_in, name="booking-check-in"),
    path("floors/<int:pk>/plan.svg", views_floor_plans.floor_plan_svg, name="floor-plan-svg"),
    path("floors/<int:pk>/plan/edit/", views_floor_plans.floor_plan_edit, name="floor-plan-edit"),
    path("manifest.webmanifest", views_floor_plans.manifest, name="manifest"),
]
