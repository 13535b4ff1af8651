"""Portal pages for comfort (owned by the comfort work; included by portal/urls.py)."""

urlpatterns: list = []
