app_name = "comfort-api"

urlpatterns: list = []
