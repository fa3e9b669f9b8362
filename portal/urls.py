from django.urls import path

from portal import views

app_name = "portal"

cell = "maps/<slug:slug>/cells/<int:intervention_id>/<int:outcome_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("maps/<slug:slug>/", views.map_page, name="map"),
    path("maps/<slug:slug>/data.json", views.map_data, name="map_data"),
    path("maps/<slug:slug>/embed/", views.map_embed, name="map_embed"),
    path("maps/<slug:slug>/download.html", views.map_download, name="map_download"),
    path("maps/<slug:slug>/methods/", views.methods_page, name="methods"),
    path(cell, views.cell_page, name="cell"),
    path("maps/<slug:slug>/studies/<int:pk>/", views.study_page, name="study"),
]
