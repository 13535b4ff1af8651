"""The operator's view (included by portal/urls.py)."""

from django.urls import path

from portal import views_operations

urlpatterns = [
    path("operations/", views_operations.operations, name="operations"),
    path("operations/people/<int:pk>/", views_operations.person, name="operations-person"),
]
