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


def test_the_presenters_lists_of_values_agree_with_their_sources() -> None:
    from typing import get_args

    from evidence.models import PoolingMethod
    from evidence.stats.interpret import EFFECT_LABEL_PRESETS
    from evidence.synthesis.presenter import BANDS, I2_CODES, I2_DEFINITIONS, Method

    assert set(BANDS) == {band for preset in EFFECT_LABEL_PRESETS.values() for band in preset.bands}
    assert list(get_args(Method)) == list(PoolingMethod.values)
    assert list(I2_CODES) == list(I2_DEFINITIONS)


def test_a_cell_states_how_it_was_pooled(api: APIClient, demo_map) -> None:  # type: ignore[no-untyped-def]
    """A CHE cell and a univariate cell of the demo carry their model, settings, every variance
    component and the effect sizes as pooled (the R test in test_reproduce.py refits them)."""
    cells = api.get("/api/v1/maps/human-rights-diplomacy/cells/").json()["cells"]
    che = next(c for c in cells if c["model"] == "CHE")
    assert che["method"] == "REML" and che["test"] == "t" and che["vcov"] == "CR2" and che["rho"] == 0.8
    assert che["df"] > 0 and che["tolerance"] == 1e-10 and che["omega2"] is not None and che["n_clusters"] >= 2
    assert che["i2_definition"] == "nakagawa_santos_total" and che["pi_definition"].endswith("√(se² + τ² + ω²)")
    assert che["q_df"] == che["k"] - 1 and 0 <= che["q_p"] <= 1
    uni = next(c for c in cells if c["model"] == "univariate" and c["k"] >= 10)
    assert uni["vcov"] == "model" and uni["df"] is None and uni["omega2"] is None and uni["rho"] is None
    assert uni["i2_definition"] == "higgins_thompson" and uni["pi_definition"] == "estimate ± z(0.975)·√(se² + τ²)"
    assert uni["egger_p"] is not None and uni["tolerance"] == 1e-13
    assert all(c["not_pooled_reason"] is None for c in cells)  # missing text is null

    detail = api.get(f"/api/v1/maps/human-rights-diplomacy/cells/{che['intervention_id']}/{che['outcome_id']}/").json()
    pooled = detail["pooled_effects"]
    assert len(pooled) == che["k"] and all(not e["reversed"] for e in pooled)
    by_id = {e["id"]: e for e in detail["effect_sizes"]}
    assert [e["effect_size_id"] for e in pooled] == sorted(by_id)
    for effect in pooled:
        assert effect["yi"] == by_id[effect["effect_size_id"]]["g"]
        assert effect["vi"] == by_id[effect["effect_size_id"]]["var_g"]
        assert effect["study_id"] == by_id[effect["effect_size_id"]]["study_id"]
