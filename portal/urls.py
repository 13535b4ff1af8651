from django.urls import include, path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    # Pages without the portal's <link rel="icon"> (the admin, the API docs) make browsers ask for /favicon.ico.
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("portal.urls_bookings")),
    path("", include("portal.urls_comfort")),
    path("", include("portal.urls_badges")),
    path("", include("portal.urls_analytics")),
]
