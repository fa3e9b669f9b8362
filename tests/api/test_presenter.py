"""One cell presenter: the API's cell serializers, its JSON and the map page's data.json agree
with it."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.serializers import CellDetailOutputSerializer, CellOutputSerializer
from evidence.synthesis.presenter import CELL_CSV_COLUMNS, CellView, ConfidenceView, LabelView
from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def test_serializers_are_the_presenters_fields() -> None:
    cell_fields = [f.name for f in dataclasses.fields(CellView)]
    assert list(CellOutputSerializer().fields) == cell_fields
    assert list(CellDetailOutputSerializer().fields)[: len(cell_fields)] == cell_fields
    label = CellOutputSerializer().fields["label"]
    assert list(label.fields) == [f.name for f in dataclasses.fields(LabelView)]
    confidence = CellOutputSerializer().fields["confidence"]
    assert list(confidence.fields) == [f.name for f in dataclasses.fields(ConfidenceView)]
    assert CellOutputSerializer().fields["estimate"].help_text == "Pooled Hedges' g (positive means improvement where `harmonised`)."


def test_the_api_and_data_json_carry_the_same_cells(api: APIClient, client, world: World) -> None:  # type: ignore[no-untyped-def]
    cells = api.get("/api/v1/maps/open-map/cells/").json()["cells"]
    assert cells and all(list(c) == [f.name for f in dataclasses.fields(CellView)] for c in cells)
    compact = {
        (c["i"], c["o"]): c
        for c in client.get(reverse("portal:map_data", kwargs={"slug": "open-map"})).json()["cells"]
    }
    assert set(compact) == {(c["intervention_id"], c["outcome_id"]) for c in cells}
    for cell in cells:
        short = compact[(cell["intervention_id"], cell["outcome_id"])]
        assert short["studies"] == cell["n_studies"] and short["effects"] == cell["n_effects"]
        if cell["estimate"] is not None:
            assert short["g"] == pytest.approx(cell["estimate"], abs=5e-5)
            assert short["label"] == cell["label"]["text"]
    csv_header = api.get("/api/v1/maps/open-map/cells/?format=csv").content.decode().splitlines()[0]
    assert csv_header.split(",") == list(CELL_CSV_COLUMNS)
