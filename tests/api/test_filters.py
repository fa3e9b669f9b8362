"""The map filters are declared once (evidence.filters.StudyFilterSet): the API, its schema,
the map page and data.json all follow the declaration."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.filters import StudyFilters, StudyFilterSet
from tests.api.conftest import World
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def titles(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return {s["title"] for s in response.json()["results"]}


def test_has_effects_filter_everywhere(api: APIClient, world: World, client) -> None:  # type: ignore[no-untyped-def]
    StudyFactory(evidence_map=world.map, title="Qualitative study without numbers")
    everything = titles(api.get("/api/v1/studies/?map=open-map"))
    with_effects = titles(api.get("/api/v1/studies/?map=open-map&has_effects=yes"))
    without = titles(api.get("/api/v1/studies/?map=open-map&has_effects=no"))
    assert with_effects == {"Schools in Kenya", "Clinics in Peru", "Markets in India"}
    assert without == {"Qualitative study without numbers"}
    assert with_effects | without == everything
    bad = api.get("/api/v1/studies/?has_effects=maybe")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["has_effects"]
    # The map's data and its page take it too.
    data = client.get(reverse("portal:map_data", kwargs={"slug": "open-map"}), {"has_effects": "no"}).json()
    assert data["totals"]["studies"] == 1 and data["query"] == "has_effects=no"
    page = client.get(reverse("portal:map", kwargs={"slug": "open-map"}), {"has_effects": "no"}).content.decode()
    assert 'name="has_effects"' in page and '<option value="no" selected>' in page


def test_every_declared_filter_is_an_api_parameter_and_a_form_field(api: APIClient, client, world: World) -> None:  # type: ignore[no-untyped-def]
    declared = list(StudyFilterSet.base_filters)
    schema = api.get("/api/v1/schema/?format=json").json()
    for path in ("/api/v1/studies/", "/api/v1/maps/{slug}/cells/"):
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert set(declared) <= names, path
    page = client.get(reverse("portal:map", kwargs={"slug": "open-map"})).content.decode()
    for name in declared:  # the map offers a code set as a filter, so the code filter is there too
        assert f'name="{name}"' in page, name
        assert f'data-filter="{name}"' in page, name


def test_filters_are_values_that_round_trip() -> None:
    filters = StudyFilters.from_query({"design": "rct,did", "year_min": "2010", "has_effects": "yes"})
    assert filters == StudyFilters(design=("rct", "did"), year_min=2010, has_effects=True)
    assert hash(filters) == hash(StudyFilters(design=("rct", "did"), year_min=2010, has_effects=True))
    assert StudyFilters.from_query(QueryDict(filters.to_query())) == filters
    with pytest.raises(TypeError):
        StudyFilters(desgn=("rct",))


def test_appraised_filter(api: APIClient, world: World, client) -> None:  # type: ignore[no-untyped-def]
    StudyFactory(evidence_map=world.map, title="Not yet appraised", confidence="")
    assert titles(api.get("/api/v1/studies/?map=open-map&appraised=no")) == {"Not yet appraised"}
    assert "Not yet appraised" not in titles(api.get("/api/v1/studies/?map=open-map&appraised=yes"))
    data = client.get(reverse("portal:map_data", kwargs={"slug": "open-map"}), {"appraised": "no"}).json()
    assert data["totals"]["studies"] == 1
