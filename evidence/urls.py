from django.urls import path

from evidence import views

app_name = "evidence"

urlpatterns = [
    path("", views.home, name="home"),
    path("maps/<slug:slug>/", views.map_page, name="map"),
    path("maps/<slug:slug>/studies/<int:pk>/", views.study_page, name="study"),
]
