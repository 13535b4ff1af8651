"""Portal pages for analytics (staff; included by portal/urls.py)."""

from django.urls import path

from portal import views_analytics

urlpatterns = [
    path("analytics/", views_analytics.dashboard, name="analytics"),
    path("analytics/runs/", views_analytics.run_start, name="analytics-run"),
    path("analytics/runs/<int:pk>/progress/", views_analytics.run_progress, name="analytics-progress"),
    path("analytics/rooms.csv", views_analytics.rooms_download, name="analytics-csv"),
]
