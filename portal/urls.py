from django.contrib.sitemaps import views as sitemap_views
from django.urls import path

from portal import release_views, views
from portal.sitemaps import SITEMAPS

app_name = "portal"

cell = "maps/<slug:slug>/cells/<int:intervention_id>/<int:outcome_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("maps/<slug:slug>/", views.map_page, name="map"),
    path("maps/<slug:slug>/data.json", views.map_data, name="map_data"),
    path("maps/<slug:slug>/overview/", views.overview_page, name="overview"),
    # The cells changed since the previous release (the map page's highlight; in a release's
    # URLs, those changed in that release).
    path("maps/<slug:slug>/changes.json", release_views.changes_json, name="map_changes"),
    path("maps/<slug:slug>/embed/", views.map_embed, name="map_embed"),
    path("maps/<slug:slug>/download.html", views.map_download, name="map_download"),
    path("maps/<slug:slug>/methods/", views.methods_page, name="methods"),
    path(cell, views.cell_page, name="cell"),
    path("maps/<slug:slug>/studies/<int:pk>/", views.study_page, name="study"),
    path("sitemap.xml", sitemap_views.index, {"sitemaps": SITEMAPS, "sitemap_url_name": "portal:sitemap_section"},
         name="sitemap"),
    path("sitemap-<section>.xml", sitemap_views.sitemap, {"sitemaps": SITEMAPS}, name="sitemap_section"),
    # A release's pages are the map's own, moved into it (portal.releases); these two name them.
    path("maps/<slug:slug>/releases/", views.releases_page, name="releases"),
    path("maps/<slug:slug>/releases/compare/", release_views.compare_page, name="release_compare"),
    path("maps/<slug:slug>/releases/feed.atom", release_views.MapReleasesFeed(), name="release_feed"),
    path("maps/<slug:slug>/releases/<int:number>/cite/", release_views.cite_page, name="release_cite"),
    path("maps/<slug:slug>/releases/<int:number>/cite.bib", release_views.cite_bibtex, name="release_cite_bib"),
    path("maps/<slug:slug>/releases/<int:number>/cite.ris", release_views.cite_ris, name="release_cite_ris"),
    path("releases/feed.atom", release_views.AllReleasesFeed(), name="all_releases_feed"),
    path("maps/<slug:slug>/releases/<int:number>/", views.release_moved, name="release"),
]
