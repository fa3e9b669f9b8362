from django.urls import path

from interchange import views

app_name = "interchange"

urlpatterns = [
    path("maps/<slug:slug>/studies.csv", views.studies_csv, name="studies_csv"),
    path("maps/<slug:slug>/studies.ris", views.studies_ris, name="studies_ris"),
    path("maps/<slug:slug>/overview/<slug:chart>.csv", views.overview_csv, name="overview_csv"),
    path("maps/<slug:slug>/eppi.json", views.map_eppi_json, name="map_eppi_json"),
    path("maps/<slug:slug>/map.xlsx", views.map_xlsx, name="map_xlsx"),
    path(
        "maps/<slug:slug>/cells/<int:intervention_id>/<int:outcome_id>/effect-sizes.csv",
        views.cell_effects_csv, name="cell_effects_csv",
    ),
]
