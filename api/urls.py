from django.urls import path, re_path, register_converter

from api import docs, views


class IdConverter:
    """A database id: digits, small enough for every database's integer column."""

    regex = "[0-9]{1,9}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

app_name = "api"

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.docs_page, name="docs"),
    path("maps/", views.MapListView.as_view(), name="maps"),
    path("maps/<slug:slug>/", views.MapDetailView.as_view(), name="map"),
    path("maps/<slug:slug>/interventions/", views.InterventionListView.as_view(), name="interventions"),
    path("maps/<slug:slug>/outcomes/", views.OutcomeListView.as_view(), name="outcomes"),
    path("maps/<slug:slug>/code-sets/", views.CodeSetListView.as_view(), name="code-sets"),
    path("maps/<slug:slug>/cells/", views.CellListView.as_view(), name="cells"),
    path(
        "maps/<slug:slug>/cells/<id:intervention_id>/<id:outcome_id>/",
        views.CellDetailView.as_view(), name="cell",
    ),
    path("maps/<slug:slug>/changes/", views.ChangesView.as_view(), name="changes"),
    path("maps/<slug:slug>/releases/compare/", views.CompareView.as_view(), name="release-compare"),
    path("maps/<slug:slug>/dump/", views.DumpView.as_view(), name="dump"),
    path("maps/<slug:slug>/releases/", views.ReleaseListView.as_view(), name="releases"),
    path("studies/", views.StudyListView.as_view(), name="studies"),
    path("studies/<id:pk>/", views.StudyDetailView.as_view(), name="study"),
    path("effect-sizes/", views.EffectSizeListView.as_view(), name="effect-sizes"),
    path("effect-sizes/<id:pk>/", views.EffectSizeDetailView.as_view(), name="effect-size"),
    path("tokens/", views.TokenListView.as_view(), name="tokens"),
    path("tokens/<id:pk>/", views.TokenDetailView.as_view(), name="token"),
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not-found"),  # newlines too
]
