"""The cell page's "Does the result hold?" section: leave-one-out by study, trim-and-fill and the
within-study correlation, each with whether the cell's label survives; bounded for big cells."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from django.urls import reverse

from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.stats.clustered import pool_clustered
from evidence.stats.pubbias import trim_and_fill
from evidence.synthesis import map_evidence
from evidence.synthesis.presenter import present_sensitivity
from evidence.synthesis.sensitivity import (
    LEAVE_ONE_OUT_MAX_K,
    LEAVE_ONE_OUT_MAX_STUDIES,
    cell_sensitivity,
)
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db

TREATIES = ("Human rights treaty ratification", "Physical integrity rights")


def cell_url(evidence_map: EvidenceMap, i: int, o: int) -> str:
    return reverse("portal:cell", kwargs={"slug": evidence_map.slug, "intervention_id": i, "outcome_id": o})


def _plot_data(html: str) -> dict:  # type: ignore[type-arg]
    return json.loads(html.split('id="sensitivity-data" type="application/json">')[1].split("</script>")[0])


def test_the_demos_twelve_study_cell(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    i = Intervention.objects.get(evidence_map=demo_map, name=TREATIES[0]).pk
    o = Outcome.objects.get(evidence_map=demo_map, name=TREATIES[1]).pk
    evidence = map_evidence(demo_map, only=(i, o))
    cell = evidence.cell(i, o)
    assert cell.n_studies == cell.n_effects == 12
    response = client.get(cell_url(demo_map, i, o))
    html = response.content.decode()
    assert response.status_code == 200 and len(response.content) < 300_000
    assert "Does the result hold?" in html and "Each study left out in turn" in html
    assert "portal/js/sensitivity.js" in html
    data = _plot_data(html)
    assert len(data["rows"]) == 12 and data["full"]["g"] == pytest.approx(cell.result.estimate, abs=1e-4)
    # Each row is the cell pooled without that study, named by its citation.
    for row, study_id in zip(data["rows"], sorted(cell.study_ids), strict=True):
        rest = cell.clusters != study_id
        fit = pool_clustered(cell.yi[rest], cell.vi[rest], cell.clusters[rest])
        assert row["g"] == pytest.approx(fit.estimate, abs=1e-4)
        assert row["changed"] == (row["label"] != cell.label.text)
    # The forest plot's markers are sized by each effect size's weight: 1 / (vi + tau2), in %.
    forest = json.loads(html.split('id="forest-data" type="application/json">')[1].split("</script>")[0])
    weights = 1 / (cell.vi + cell.result.tau2)
    expected = dict(zip(np.round(cell.yi, 4).tolist(), (100 * weights / weights.sum()).tolist(), strict=True))
    assert all(r["w"] == pytest.approx(expected[r["g"]], abs=0.006) for r in forest["rows"])
    # Trim-and-fill on 12 effect sizes; no within-study correlation to vary.
    filled = trim_and_fill(cell.yi, cell.vi, method=demo_map.pooling_method)
    assert "Trim-and-fill (Duval and Tweedie" in html
    assert ("It finds none missing" in html) == (filled.k0 == 0)
    assert "Not needed: every study contributes one effect size" in html


def test_a_label_that_leans_on_one_study_is_flagged(client) -> None:  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    # Three small effects and one large, precise study: without it, the label drops a band.
    for value, se in ((0.03, 0.05), (0.01, 0.06), (0.04, 0.05), (0.9, 0.02)):
        EffectSizeFactory(study=StudyFactory(evidence_map=evidence_map, authors="Big, B." if value > 0.5 else
                                             "Small, S."), intervention=row, outcome=col, es_value=value, es_se=se)
    html = client.get(cell_url(evidence_map, row.pk, col.pk)).content.decode()
    data = _plot_data(html)
    assert [r["name"] for r in data["rows"] if r["changed"]] == ["Without Big (2015)"]
    assert "Leaving out Big (2015) changes the label" in html and "No: the label changes" in html
    assert "changes without Big (2015): read it with care" in html
    assert "Not run: it needs at least 10 effect sizes (this cell has 4)" in html


def test_dependent_effect_sizes_are_pooled_under_three_correlations(client) -> None:  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory(within_study_correlation=0.8)
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    rng = np.random.default_rng(5)
    for n in range(6):
        study = StudyFactory(evidence_map=evidence_map)
        for _ in range(1 + n % 3):
            EffectSizeFactory(study=study, intervention=row, outcome=col, es_value=float(rng.normal(0.2, 0.2)),
                              es_se=float(rng.uniform(0.05, 0.2)))
    cell = map_evidence(evidence_map).cell(row.pk, col.pk)
    assert cell.result.model == "CHE"
    found = cell_sensitivity(evidence_map, cell)
    assert list(found.correlations) == [0.2, 0.5, 0.8]
    assert found.correlations[0.8].estimate == pytest.approx(cell.result.estimate, rel=1e-10)
    assert found.leave_one_out.k.tolist() == [cell.n_effects - int((cell.clusters == s).sum())
                                             for s in sorted(set(cell.study_ids))]
    view = present_sensitivity(evidence_map, cell, found, citations={})
    assert [r.name for r in view.correlations] == [f"Within-study correlation {r}" for r in (0.2, 0.5, 0.8)]
    for alternative, rho in zip(view.correlations, (0.2, 0.5, 0.8), strict=True):
        fit = pool_clustered(cell.yi, cell.vi, cell.clusters, rho=rho)
        assert alternative.estimate == pytest.approx(fit.estimate, rel=1e-10)
        assert alternative.keeps_label == (cell.label_of(evidence_map, fit.estimate, (fit.ci_low, fit.ci_high)).text
                                           == cell.label.text)
    html = client.get(cell_url(evidence_map, row.pk, col.pk)).content.decode()
    assert "Studies here contribute several effect sizes" in html and "<th scope=\"row\">0.5</th>" in html


def test_a_big_cell_stays_small_and_fast_and_says_why_leave_one_out_is_not_run(client) -> None:  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    rng = np.random.default_rng(2)
    n = LEAVE_ONE_OUT_MAX_STUDIES + 5
    for _ in range(n):
        EffectSizeFactory(study=StudyFactory(evidence_map=evidence_map), intervention=row, outcome=col,
                          es_value=float(rng.normal(0.2, 0.2)), es_se=float(rng.uniform(0.05, 0.2)))
    start = time.monotonic()
    response = client.get(cell_url(evidence_map, row.pk, col.pk))
    elapsed = time.monotonic() - start
    html = response.content.decode()
    assert response.status_code == 200 and len(response.content) < 300_000
    assert (f"it is run for cells of at most {LEAVE_ONE_OUT_MAX_STUDIES} studies and {LEAVE_ONE_OUT_MAX_K} effect "
            f"sizes (this one has {n} and {n})") in html
    assert "Trim-and-fill (Duval and Tweedie" in html and elapsed < 10


def test_a_paged_cell_names_every_study_left_out(client) -> None:  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    for n in range(60):  # more than a page of studies, fewer than the leave-one-out limit
        EffectSizeFactory(study=StudyFactory(evidence_map=evidence_map, authors=f"Author{n:02d}, A."),
                          intervention=row, outcome=col, es_value=0.1 + 0.005 * n, es_se=0.1)
    html = client.get(cell_url(evidence_map, row.pk, col.pk)).content.decode()
    names = [r["name"] for r in _plot_data(html)["rows"]]
    assert len(names) == 60 and all(name.startswith("Without Author") for name in names)


def test_methods_page_explains_the_sensitivity_analyses(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    html = client.get(reverse("portal:methods", kwargs={"slug": demo_map.slug})).content.decode()
    assert "Does a result hold?" in html and "Each study left out in turn." in html
    assert f"run for cells of 3 to {LEAVE_ONE_OUT_MAX_STUDIES} studies" in html
    assert "The cell is pooled again assuming 0.2, 0.5, 0.8" in html and "Trim-and-fill." in html
