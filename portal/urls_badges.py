"""Portal pages for badges (owned by the badges work; included by portal/urls.py)."""

from django.urls import path

from portal import views_badges

urlpatterns = [
    path("badge/", views_badges.badge, name="badge"),
    path("badge/qr/", views_badges.badge_qr, name="badge-qr"),
    path("visitors/", views_badges.visitors, name="visitors"),
    path("visitors/<int:pk>/check-out/", views_badges.visit_check_out, name="visit-check-out"),
    path("visitors/<int:pk>/cancel/", views_badges.visit_cancel, name="visit-cancel"),
    path("reception/", views_badges.reception, name="reception"),
    path("reception/<int:pk>/check-in/", views_badges.reception_check_in, name="reception-check-in"),
    path("visitor-badge/<str:token>/", views_badges.visitor_badge, name="visitor-badge"),
    path("visitor-badge/<str:token>/qr/", views_badges.visitor_badge_qr, name="visitor-badge-qr"),
]
