"""The partner API's views, one module per resource."""

from api.views.base import ApiRootView, NotFoundView
from api.views.cells import CellDetailView, CellListView
from api.views.compare import CompareView
from api.views.effect_sizes import EffectSizeDetailView, EffectSizeListView
from api.views.maps import (
    CodeSetListView,
    InterventionListView,
    MapDetailView,
    MapListView,
    OutcomeListView,
    ReleaseListView,
)
from api.views.studies import StudyDetailView, StudyListView
from api.views.sync import ChangesView, DumpView
from api.views.tokens import TokenDetailView, TokenListView

__all__ = [
    "ApiRootView",
    "CellDetailView",
    "CellListView",
    "ChangesView",
    "CodeSetListView",
    "CompareView",
    "DumpView",
    "EffectSizeDetailView",
    "EffectSizeListView",
    "InterventionListView",
    "MapDetailView",
    "MapListView",
    "NotFoundView",
    "OutcomeListView",
    "ReleaseListView",
    "StudyDetailView",
    "StudyListView",
    "TokenDetailView",
    "TokenListView",
]
