"""Portal pages for the account itself (the person work; included by portal/urls.py)."""

from django.urls import path

from portal import views_account

urlpatterns = [
    path("set-password/<str:uidb64>/<str:token>/", views_account.SetPasswordView.as_view(), name="set-password"),
]
