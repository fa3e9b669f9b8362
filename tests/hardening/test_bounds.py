"""Sane numbers at the door: every effect size's g, variance, SE and interval are finite and
within the bounds (README, "Bounds"), in the one validation path and in the database."""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from studies.effect_sizes import G_BOUND, VAR_G_MAX, VAR_G_MIN, ConversionError, compute_effect
from studies.models import EffectSize
from tests.api.conftest import World
from tests.api.test_write import snapshot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "values", "named", "rule"),
    [
        ("t_stat", {"t_value": 1e160, "n_1": 10, "n_2": 10}, "t_value", "-10 ≤ g ≤ 10"),
        ("es_se", {"es_value": 1e100, "es_se": 0.1}, "es_value", "-10 ≤ g ≤ 10"),
        ("es_se", {"es_value": 0.2, "es_se": 1e100}, "es_se", "var(g) ≤ 100"),
        ("es_se", {"es_value": 0.2, "es_se": 1e-9}, "es_se", "1e-10 ≤ var(g)"),
        ("es_se", {"es_value": -10.5, "es_se": 0.1}, "es_value", "-10 ≤ g ≤ 10"),
        ("means", {"mean_1": 1e6, "sd_1": 1e-3, "n_1": 20, "mean_2": 0, "sd_2": 1e-3, "n_2": 20}, "mean_1", "g ≤ 10"),
    ],
)
def test_a_result_out_of_bounds_is_refused_on_its_inputs(
    kind: str, values: dict[str, float], named: str, rule: str
) -> None:
    with pytest.raises(ConversionError) as caught:
        compute_effect(kind, values)
    assert named in caught.value.fields
    assert set(caught.value.fields) <= set(values)
    assert rule in caught.value.message


def test_results_on_the_bounds_are_accepted() -> None:
    assert compute_effect("es_se", {"es_value": G_BOUND, "es_se": math.sqrt(VAR_G_MAX)}).g == G_BOUND
    assert compute_effect("es_se", {"es_value": -G_BOUND, "es_se": 1e-5}).vg == pytest.approx(VAR_G_MIN)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"input_kind": "t_stat", "t_value": 1e160, "n_1": 10, "n_2": 10}, "t_value"),
        ({"input_kind": "es_se", "es_value": 1e100, "es_se": 0.1}, "es_value"),
        ({"input_kind": "es_se", "es_value": 0.3, "es_se": 1e100}, "es_se"),
    ],
    ids=["t 1e160", "g 1e100", "se 1e100"],
)
def test_the_issue_examples_are_400s_that_save_nothing(
    reviewer_api: APIClient, world: World, extra: dict[str, Any], field: str
) -> None:
    history = EffectSize.history.count()
    before = snapshot()
    body = {"study": world.kenya.pk, "intervention": world.i_b.pk, "outcome": world.o_x.pk, "label": "x", **extra}
    response = reviewer_api.post("/api/v1/effect-sizes/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"]
    assert "outside the accepted range" in error["fields"][field][0]
    assert snapshot() == before
    assert EffectSize.history.count() == history
    # The same through PATCH.
    change = {"es_value": None, "es_se": None, **extra}  # Peru's effect size is an es_se
    response = reviewer_api.patch(f"/api/v1/effect-sizes/{world.es_peru.pk}/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "computed",
    [{"g": 10.5}, {"g": -11.0}, {"var_g": 101.0}, {"var_g": 1e-11}, {"ci_high_g": 41.0}, {"g": math.inf},
     {"var_g": math.inf, "se_g": math.inf}],
)
def test_the_database_refuses_what_validation_would(world: World, computed: dict[str, float]) -> None:
    effect = EffectSize.objects.get(pk=world.es_peru.pk)
    for name, value in computed.items():
        setattr(effect, name, value)
    with pytest.raises(IntegrityError), transaction.atomic():
        effect.save()


def test_the_migration_stops_on_rows_out_of_bounds_and_names_them(world: World) -> None:
    migration = importlib.import_module("studies.migrations.0006_effect_size_computed_within_bounds")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    migration.refuse_rows_out_of_bounds(apps, editor)  # every row within bounds: nothing to say
    from tests.hardening.test_isolation import _write_past_validation

    _write_past_validation(world.es_india.pk, g=25.0, ci_low_g=24.0, ci_high_g=26.0)
    with pytest.raises(RuntimeError, match=f"effect size {world.es_india.pk} \\(study {world.india.pk}\\): g = 25.0"):
        migration.refuse_rows_out_of_bounds(apps, editor)


def test_the_methods_page_states_the_bounds(world: World) -> None:
    from django.test import Client

    page = Client().get(f"/maps/{world.map.slug}/methods/").content.decode()
    assert "g between −10 and 10 and a sampling variance between 1e-10 and 100" in page
