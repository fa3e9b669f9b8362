""""Why do the studies differ?" on the demo's cells: the page, the API and the rules."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evidence.models import Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY, TREATIES

pytestmark = pytest.mark.django_db


def _kwargs(demo_map, intervention: str, outcome: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "slug": demo_map.slug,
        "intervention_id": Intervention.objects.get(evidence_map=demo_map, name=intervention).pk,
        "outcome_id": Outcome.objects.get(evidence_map=demo_map, name=outcome).pk,
    }


def test_api_cell_compares_designs_and_years(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:cell", kwargs=_kwargs(demo_map, *TREATIES))
    differ = client.get(url).json()["differ"]
    assert differ["factor"] == "design" and differ["shown"] is True
    pooled = [level for level in differ["levels"] if level["included"]]
    assert sorted(level["n_studies"] for level in pooled) == [2, 3, 4]
    assert [level["included"] for level in differ["levels"]].count(False) == 3
    assert differ["test"].startswith("test of subgroup differences")
    assert 0.0 <= differ["p_value"] <= 1.0 and differ["df"] == 2
    assert {"value": "year", "name": "Publication year"} in differ["choices"]
    trend = client.get(url, {"differ": "year"}).json()["differ"]
    assert trend["kind"] == "trend" and trend["shown"] is True
    assert trend["slope_ci_low"] < trend["slope"] < trend["slope_ci_high"]
    assert "Each ten years later" in trend["text"]


def test_a_code_set_offered_as_a_filter(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:cell", kwargs=_kwargs(demo_map, *TREATIES))
    differ = client.get(url, {"differ": "code:setting"}).json()["differ"]
    assert differ["factor"] == "code:setting" and differ["factor_label"] == "Setting"
    by_label = {level["label"]: level for level in differ["levels"]}
    # Each treaty study has one setting: 8 electoral democracies, 3 hybrid regimes and one
    # post-conflict transition (too few to pool on its own, listed but not compared).
    assert {label: level["n_studies"] for label, level in by_label.items()} == {
        "Electoral democracy": 8, "Hybrid regime": 3, "Post-conflict transition": 1,
    }
    assert by_label["Post-conflict transition"]["included"] is False
    assert differ["shown"] is True and differ["df"] == 1
    assert sum(level["n_studies"] for level in differ["levels"]) == 12


def test_too_few_studies_says_why(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:cell", kwargs=_kwargs(demo_map, DIPLOMACY, POLITICAL_SECURITY))
    html = client.get(url, {"differ": "region"}).content.decode()
    assert "Why do the studies differ?" in html
    assert "Not enough data to compare groups by region" in html
    assert 'option value="region" selected' in html


def test_unknown_characteristic_falls_back_to_design(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:cell", kwargs=_kwargs(demo_map, *TREATIES))
    html = client.get(url, {"differ": "nonsense"}).content.decode()
    assert 'option value="design" selected' in html
    assert "id=\"subgroup-plot\"" in html


def test_several_effect_sizes_per_study_use_the_robust_comparison() -> None:
    """Studies with several effect sizes: each group pooled with the cell's CHE model, the groups
    compared with clubSandwich's HTZ test (the numbers themselves are checked against R in
    tests/evidence/stats/test_metareg.py)."""
    import numpy as np

    from evidence.models import EvidenceMap
    from evidence.stats import meta_regression_clustered, pool_clustered
    from evidence.synthesis.subgroups import _subgroups, _trend

    evidence_map = EvidenceMap(within_study_correlation=0.6, pooling_method="REML", pooling_test="z")
    rng = np.random.default_rng(3)
    cluster = np.repeat(np.arange(8), 3)
    yi = rng.normal(0.2, 0.2, cluster.size)
    vi = rng.uniform(0.01, 0.05, cluster.size)
    level_of = {s: ("A" if s < 4 else "B") for s in range(8)}
    base = {"factor": "design", "factor_label": "Study design", "choices": [], "rule": ""}
    view = _subgroups(evidence_map, base, yi, vi, cluster, level_of, True)
    assert view.shown and view.clustered and view.test.startswith("HTZ Wald test")
    groups = [level_of[s] for s in cluster.tolist()]
    reg = meta_regression_clustered(yi, vi, cluster, groups, categorical=True, rho=0.6)
    assert view.statistic == pytest.approx(reg.wald_f) and view.p_value == pytest.approx(reg.wald_p)
    first = pool_clustered(yi[:12], vi[:12], cluster[:12], rho=0.6)
    assert view.levels[0].estimate == pytest.approx(first.estimate)

    years = {s: 2000 + s for s in range(8)}
    trend = _trend(evidence_map, {**base, "factor": "year"}, yi, vi, cluster, years, True)
    assert trend.shown and trend.kind == "trend" and trend.df is not None
    one_study = _trend(evidence_map, {**base, "factor": "year"}, yi[:3], vi[:3], cluster[:3], years, True)
    assert not one_study.shown and "Not enough data" in one_study.reason


def test_a_big_cell_of_dependent_effect_sizes_says_why_it_is_not_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster-robust tests cost the cube of k: beyond CLUSTERED_MAX_K effect sizes the page
    lists the groups' pooled effects and says why the groups are not tested."""
    import numpy as np

    from evidence.models import EvidenceMap
    from evidence.synthesis import subgroups

    monkeypatch.setattr(subgroups, "CLUSTERED_MAX_K", 20)
    evidence_map = EvidenceMap(within_study_correlation=0.6, pooling_method="REML", pooling_test="z")
    rng = np.random.default_rng(3)
    cluster = np.repeat(np.arange(8), 3)  # 24 effect sizes
    yi, vi = rng.normal(0.2, 0.2, cluster.size), rng.uniform(0.01, 0.05, cluster.size)
    base = {"factor": "design", "factor_label": "Study design", "choices": [], "rule": ""}
    view = subgroups._subgroups(evidence_map, base, yi, vi, cluster, {s: "AB"[s // 4] for s in range(8)}, True)
    assert not view.shown and view.p_value is None
    assert "up to 20 effect sizes; this comparison has 24" in view.reason
    assert [level.estimate is not None for level in view.levels] == [True, True]
    trend = subgroups._trend(evidence_map, base, yi, vi, cluster, {s: 2000 + s for s in range(8)}, True)
    assert not trend.shown and "up to 20 effect sizes" in trend.reason
    # Independent effect sizes are tested at any size (a closed form, linear in k).
    independent = np.arange(24)
    flat = subgroups._subgroups(evidence_map, base, yi, vi, independent, {s: "AB"[s // 12] for s in range(24)}, False)
    assert flat.shown and flat.p_value is not None
