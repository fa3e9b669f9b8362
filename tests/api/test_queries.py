"""Each list endpoint runs a fixed number of SQL queries, whatever the number of studies."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evidence.models import Code, CodeSet
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


class Grid:
    def __init__(self) -> None:
        self.map = EvidenceMapFactory(slug="grid")
        self.row = InterventionFactory(evidence_map=self.map, name="Row")
        self.child = InterventionFactory(evidence_map=self.map, name="Child", parent=self.row)
        self.col = OutcomeFactory(evidence_map=self.map, name="Column")
        self.code_set = CodeSet.objects.create(evidence_map=self.map, name="Setting", slug="setting", is_filter=True)
        self.urban = Code.objects.create(code_set=self.code_set, name="Urban")
        self.slums = Code.objects.create(code_set=self.code_set, name="Informal settlements", parent=self.urban)
        self.n = 0

    def grow_to(self, n: int) -> None:
        while self.n < n:
            study = StudyFactory(evidence_map=self.map, year=2000 + self.n % 20)
            study.codes.add(self.slums if self.n % 2 else self.urban)
            Code.objects.create(code_set=self.code_set, name=f"Code {self.n}", parent=self.urban)
            EffectSizeFactory(
                study=study, intervention=self.child, outcome=self.col,
                es_value=0.1 * (self.n % 5), es_se=0.1 + 0.01 * (self.n % 7),
            )
            self.n += 1


# Anonymous requests: no authentication, session or permission queries; the throttle uses the cache.
# Every request about one map (a map's path, or `map=`) first looks up the map's latest release
# (api.views.base: anonymous readers read it, and with none, the working copy): the `1 +` below.
ENDPOINTS = [
    # the maps, each annotated with its counts and latest changes
    ("/api/v1/maps/", 1),
    # the map with its version; the nodes
    ("/api/v1/maps/grid/interventions/", 1 + 2),
    ("/api/v1/maps/grid/outcomes/", 1 + 2),
    # the map with its version; its code sets; their codes
    ("/api/v1/maps/grid/code-sets/", 1 + 3),
    # maps with versions; count; the page of studies (with maps); intervention codings; outcome
    # codings; codes
    ("/api/v1/studies/?map=grid", 1 + 6),
    # ... plus the tree of the intervention's map, for its sub-categories
    ("/api/v1/studies/?map=grid&intervention={row}&design=rct", 1 + 7),
    # ... plus the code ids checked against the map, and the code sets' trees
    ("/api/v1/studies/?map=grid&code={urban}", 1 + 8),
    # CSV: as JSON without the count
    ("/api/v1/studies/?map=grid&format=csv", 1 + 5),
    # maps with versions; count; the page of effect sizes (with studies and maps)
    ("/api/v1/effect-sizes/?map=grid", 1 + 3),
    ("/api/v1/effect-sizes/?map=grid&format=csv", 1 + 2),
    # the map with its version; map_evidence: interventions, outcomes, studies, the two
    # codings, effect sizes, overridden summaries
    ("/api/v1/maps/grid/cells/", 1 + 8),
    ("/api/v1/maps/grid/cells/?year_min=2005&format=csv", 1 + 8),
    # ... plus the code ids checked against the map, and the code sets' trees
    ("/api/v1/maps/grid/cells/?code={slums}", 1 + 10),
    # ... or, with updated_since, plus the history read by evidence.changes.cells_changed_since:
    # the two framework trees; summaries; studies changed, their rows in the window, their
    # intervention and outcome codings; effect sizes changed, their rows in the window, which of
    # their studies are published; interventions changed and their rows, outcomes likewise
    ("/api/v1/maps/grid/cells/?updated_since=2000-01-01", 1 + 22),
    # ... and for one cell: its summary, its studies and their three codings, its effect sizes;
    # "why do the studies differ?": the filter code sets and their codes, the studies'
    # characteristics (the effect sizes come from the cell as it pooled them)
    ("/api/v1/maps/grid/cells/{row}/{col}/", 1 + 17),
]


@pytest.mark.parametrize(("url", "queries"), ENDPOINTS)
def test_list_endpoints_run_a_fixed_number_of_queries(
    api: APIClient, django_assert_num_queries, url: str, queries: int  # type: ignore[no-untyped-def]
) -> None:
    grid = Grid()
    url = url.format(row=grid.row.pk, col=grid.col.pk, urban=grid.urban.pk, slums=grid.slums.pk)
    for n in (3, 30):
        grid.grow_to(n)
        with django_assert_num_queries(queries):
            response = api.get(url)
        assert response.status_code == 200
    # A conditional request that matches stops after the release look-up (not for the maps'
    # list) and the version query (and the node tree when an intervention or outcome filter
    # needs it, or the check of the code ids).
    base = 1 if url == "/api/v1/maps/" else 2
    with django_assert_num_queries(base + 1 if "intervention=" in url or "code=" in url else base):
        assert api.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_a_cell_is_serialised_once_per_version(api: APIClient, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    grid = Grid()
    grid.grow_to(12)
    url = f"/api/v1/maps/grid/cells/{grid.row.pk}/{grid.col.pk}/"
    first = api.get(url)
    # Later requests at the same version: the map's latest release, the map with its version,
    # then the shared cache.
    with django_assert_num_queries(2):
        again = api.get(url)
    assert again.json() == first.json() and len(first.json()["effect_sizes"]) == 12
    grid.grow_to(13)  # a new published study: a new version
    assert len(api.get(url).json()["effect_sizes"]) == 13
