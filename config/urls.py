from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import JavaScriptCatalog, set_language

# The interface's translations for the portal's scripts, by language (README, "Languages").
javascript_catalog = JavaScriptCatalog.as_view(packages=["portal"])

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    # The language switcher's form posts here (the choice is kept in a cookie); URLs stay the same.
    # Without CSRF: the worst a forged post can do is change a reader's language, and a token in
    # the form would give every page a cookie, which the reader cache (portal.middleware) refuses.
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    path("jsi18n/", javascript_catalog, name="javascript-catalog"),
    path("", include("interchange.urls")),
    path("", include("portal.urls")),
]

# The API answers every error in its own JSON format (api/errors.py); other paths get Django's pages.
handler400 = "api.errors.bad_request"
handler500 = "api.errors.server_error"
