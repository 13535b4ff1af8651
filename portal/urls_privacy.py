"""Portal pages for a person's rights and account (the privacy work; included by portal/urls.py)."""

from django.urls import path

from portal import views_privacy

urlpatterns = [
    path("account/data/", views_privacy.my_data, name="my-data"),
    path("account/data/download/", views_privacy.my_data_download, name="my-data-download"),
    path("account/consents/", views_privacy.consent_set, name="consent-set"),
    path("account/erase/", views_privacy.erase_account, name="erase-account"),
    path("account/password/", views_privacy.password_change, name="password-change"),
    path("password-reset/", views_privacy.password_reset, name="password-reset"),
    path("community/", views_privacy.community, name="community"),
]
