"""Portal pages for bookings (owned by the bookings work; included by portal/urls.py)."""

from django.urls import path

from portal import views_bookings

urlpatterns = [
    path("rooms/", views_bookings.room_search, name="rooms"),
    path("rooms/<int:pk>/", views_bookings.room_day, name="room-day"),
    path("desks/", views_bookings.desk_search, name="desks"),
    path("book/", views_bookings.book, name="book"),
    path("bookings/", views_bookings.my_bookings, name="my-bookings"),
    path("bookings/<int:pk>/cancel/", views_bookings.booking_cancel, name="booking-cancel"),
    path("bookings/<int:pk>/check-in/", views_bookings.booking_check_in, name="booking-check-in"),
]
