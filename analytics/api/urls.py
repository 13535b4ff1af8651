from django.urls import path

from analytics.api import views

app_name = "analytics-api"

urlpatterns = [
    path("analytics/runs/", views.RunCreateApi.as_view(), name="run-create"),
    path("analytics/runs/<int:pk>/", views.RunDetailApi.as_view(), name="run-detail"),
    path("analytics/rooms/", views.RoomsApi.as_view(), name="rooms"),
    path("analytics/rooms.csv", views.RoomsCsvApi.as_view(), name="rooms-csv"),
    path("analytics/recommendations/", views.RecommendationsApi.as_view(), name="recommendations"),
]
