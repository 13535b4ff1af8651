"""Portal pages for badges (owned by the badges work; included by portal/urls.py)."""

urlpatterns: list = []
