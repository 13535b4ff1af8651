"""Portal pages for bookings (owned by the bookings work; included by portal/urls.py)."""

urlpatterns: list = []
