from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("interchange.urls")),
    path("", include("portal.urls")),
]

# The API answers every error in its own JSON format (api/errors.py); other paths get Django's pages.
handler400 = "api.errors.bad_request"
handler500 = "api.errors.server_error"
