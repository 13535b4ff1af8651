from django.urls import path
from rest_framework.routers import SimpleRouter

from badges.api import views

app_name = "badges-api"

router = SimpleRouter()
router.register("badges", views.BadgeViewSet, basename="badge")
router.register("visits", views.VisitViewSet, basename="visit")

urlpatterns = [
    path("me/badge/", views.MyBadgeApi.as_view(), name="my-badge"),
    path("badges/<int:pk>/revoke/", views.BadgeRevokeApi.as_view(), name="badge-revoke"),
    path("badges/<int:pk>/suspend/", views.BadgeSuspendApi.as_view(), name="badge-suspend"),
    path("badges/<int:pk>/reinstate/", views.BadgeReinstateApi.as_view(), name="badge-reinstate"),
    path("visits/<int:pk>/check-in/", views.VisitCheckInApi.as_view(), name="visit-check-in"),
    path("visits/<int:pk>/check-out/", views.VisitCheckOutApi.as_view(), name="visit-check-out"),
    path("visits/<int:pk>/card/", views.VisitCardApi.as_view(), name="visit-card"),
    path("access/check/", views.AccessCheckApi.as_view(), name="access-check"),
    *router.urls,
]
