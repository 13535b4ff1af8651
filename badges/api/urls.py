app_name = "badges-api"

urlpatterns: list = []
