from django.urls import include, path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-in/code/", views.sign_in_code, name="sign-in-code"),
    path("account/two-factor/", views.two_factor, name="two-factor"),
    path("sign-out/", views.sign_out, name="sign-out"),
    # Pages without the portal's <link rel="icon"> (the admin, the API docs) make browsers ask for /favicon.ico.
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("portal.urls_bookings")),
    path("", include("portal.urls_comfort")),
    path("", include("portal.urls_badges")),
    path("", include("portal.urls_account")),
    path("", include("portal.urls_privacy")),
    path("", include("portal.urls_calendars")),
    path("", include("portal.urls_my_calendar")),
    path("", include("portal.urls_analytics")),
    path("", include("portal.urls_kiosk")),
    path("", include("portal.urls_operations")),
]
