"""Portal pages for comfort (owned by the comfort work; included by portal/urls.py)."""

from django.urls import path

from portal import views_comfort

urlpatterns = [
    path("workspace/", views_comfort.workspace, name="workspace"),
    path("workspace/preferences/", views_comfort.workspace_preferences, name="workspace-preferences"),
    path("workspace/check-in/", views_comfort.workspace_check_in, name="workspace-check-in"),
    path("workspace/check-out/", views_comfort.workspace_check_out, name="workspace-check-out"),
    path("workspace/live/", views_comfort.workspace_live, name="workspace-live"),
]
