from django.urls import path

from portal import views

app_name = "portal"

cell = "maps/<slug:slug>/cells/<int:intervention_id>/<int:outcome_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("maps/<slug:slug>/", views.map_page, name="map"),
    path("maps/<slug:slug>/data.json", views.map_data, name="map_data"),
    path("maps/<slug:slug>/methods/", views.methods_page, name="methods"),
    path(cell, views.cell_page, name="cell"),
    path("maps/<slug:slug>/studies/<int:pk>/", views.study_page, name="study"),
    # A release's pages are the map's own, moved into it (portal.releases); these two name them.
    path("maps/<slug:slug>/releases/", views.releases_page, name="releases"),
    path("maps/<slug:slug>/releases/<int:number>/", views.release_moved, name="release"),
]
