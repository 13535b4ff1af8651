"""The reception kiosk (included by portal/urls.py)."""

from django.urls import path

from portal import views_badges, views_kiosk

urlpatterns = [
    path("kiosk/", views_kiosk.kiosk, name="kiosk"),
    path("reception/kiosks/", views_kiosk.kiosk_set_up, name="kiosk-set-up"),
    path("reception/kiosks/<int:pk>/revoke/", views_kiosk.kiosk_revoke, name="kiosk-revoke"),
    path("reception/<int:pk>/badge/", views_badges.reception_badge, name="reception-badge"),
]
