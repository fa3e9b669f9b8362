"""Direction harmonisation: a cell whose column is a category of outcomes pools its effect sizes
so that positive means improvement, reversing those on outcomes where lower is better; a leaf
column pools its effect sizes as reported. Checked on the demo's two political-imprisonment
aggregates and on a map mixing directions at three levels, through every path a cell is shown."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.urls import reverse

from evidence.filters import StudyFilters
from evidence.models import Direction, EvidenceMap, Intervention, Outcome
from evidence.stats import egger_test, pool_clustered
from evidence.synthesis import map_evidence
from evidence.synthesis.membership import map_membership
from evidence.synthesis.pooling import pool_rows
from interchange.demo import DEFENDERS
from studies.models import EffectSize
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db

NOTE = "Effects on political imprisonment are reversed so that positive means improvement."


def _node(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap, name: str) -> int:
    return int(model.objects.get(evidence_map=evidence_map, name=name).pk)


@pytest.mark.parametrize("row", ["Support to civil society", DEFENDERS[0]])
def test_demo_aggregates_of_political_imprisonment_are_beneficial_like_the_leaf(demo_map, client, row) -> None:  # type: ignore[no-untyped-def]
    i = _node(Intervention, demo_map, row)
    aggregate = _node(Outcome, demo_map, "Security and rights")
    leaf = _node(Outcome, demo_map, "Political imprisonment")
    evidence = map_evidence(demo_map)
    up, down = evidence.cell(i, aggregate), evidence.cell(i, leaf)
    # The same effect sizes, all on political imprisonment (lower is better).
    assert up.effect_ids == down.effect_ids and up.n_effects > 0
    assert set(EffectSize.objects.filter(pk__in=up.effect_ids).values_list("outcome_id", flat=True)) == {leaf}
    assert down.result.estimate == pytest.approx(-0.176, abs=5e-4)  # as reported: fewer prisoners
    assert up.result.estimate == pytest.approx(-down.result.estimate, rel=1e-12)
    assert (up.result.ci_low, up.result.ci_high) == pytest.approx((-down.result.ci_high, -down.result.ci_low))
    assert up.label.beneficial and down.label.beneficial
    assert up.label.text == down.label.text == "Moderate effect"
    assert (up.harmonised, up.reversed_outcomes) == (True, (leaf,))
    assert (down.harmonised, down.reversed_outcomes) == (False, ())
    assert up.yi.tolist() == pytest.approx((-down.yi).tolist())

    # The map's data.json and the API say the same, with the note on the aggregate only.
    slug = {"slug": demo_map.slug}
    data = client.get(reverse("portal:map_data", kwargs=slug)).json()
    cells = {(c["i"], c["o"]): c for c in data["cells"]}
    assert cells[(i, aggregate)]["beneficial"] and cells[(i, leaf)]["beneficial"]
    assert cells[(i, aggregate)]["g"] == pytest.approx(0.176, abs=5e-4)
    assert cells[(i, aggregate)]["note"] == NOTE and "note" not in cells[(i, leaf)]
    api = client.get(reverse("api:cell", kwargs={**slug, "intervention_id": i, "outcome_id": aggregate})).json()
    assert api["label"]["beneficial"] and api["estimate"] == pytest.approx(up.result.estimate)
    assert (api["harmonised"], api["direction_note"], api["reversed_outcomes"]) == (True, NOTE, [leaf])
    # Each pooled effect size is listed as it was pooled: reversed, with its g times -1.
    pooled = api["pooled_effects"]
    assert [e["effect_size_id"] for e in pooled] == list(up.effect_ids) and all(e["reversed"] for e in pooled)
    assert [e["yi"] for e in pooled] == pytest.approx((-down.yi).tolist())
    leaf_api = client.get(reverse("api:cell", kwargs={**slug, "intervention_id": i, "outcome_id": leaf})).json()
    assert not any(e["reversed"] for e in leaf_api["pooled_effects"])
    listed = client.get(reverse("api:cells", kwargs=slug), {"format": "csv"}).content.decode()
    by_key = {(int(r["intervention_id"]), int(r["outcome_id"])): r for r in csv.DictReader(io.StringIO(listed))}
    assert by_key[(i, aggregate)]["label.beneficial"] == "true"
    assert by_key[(i, aggregate)]["direction_note"] == NOTE and by_key[(i, leaf)]["direction_note"] == ""

    # The cell page, its forest plot and its CSV say so, and show the reversed values.
    url = reverse("portal:cell", kwargs={**slug, "intervention_id": i, "outcome_id": aggregate})
    page = client.get(url).content.decode()
    assert page.count(NOTE.rstrip(".")) >= 2 and "(reversed)" in page
    forest = json.loads(page.split('id="forest-data" type="application/json">')[1].split("</script>")[0])
    assert forest["note"] == NOTE and all(r["label"].endswith("(reversed)") for r in forest["rows"])
    reported = sorted(-es.g for es in EffectSize.objects.filter(pk__in=up.effect_ids))
    assert sorted(r["g"] for r in forest["rows"]) == pytest.approx(reported, abs=1e-4)
    assert sum(r["w"] for r in forest["rows"]) == pytest.approx(100, abs=0.05)
    assert [p[0] for p in forest["points"]] == pytest.approx(up.yi.tolist(), abs=1e-4)
    leaf_page = client.get(reverse("portal:cell", kwargs={**slug, "intervention_id": i, "outcome_id": leaf}))
    assert "are reversed" not in leaf_page.content.decode()
    exported = client.get(reverse("interchange:cell_effects_csv", kwargs={
        **slug, "intervention_id": i, "outcome_id": aggregate})).content.decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and all(r["orientation"] == "reversed so that positive means improvement" for r in rows)
    assert all(float(r["g_pooled"]) == pytest.approx(-float(r["g"]), rel=1e-15) for r in rows)
    assert all(float(r["ci_low_pooled"]) <= float(r["g_pooled"]) <= float(r["ci_high_pooled"]) for r in rows)
    leaf_csv = client.get(reverse("interchange:cell_effects_csv", kwargs={
        **slug, "intervention_id": i, "outcome_id": leaf})).content.decode()
    assert {r["orientation"] for r in csv.DictReader(io.StringIO(leaf_csv))} == {"as reported"}


@pytest.fixture
def mixed_map() -> dict[str, object]:
    """Outcomes mixing directions at three levels:

        Wellbeing (higher)
        ├── Harm (lower)            <- a category that is itself "lower is better"
        │   ├── Injuries (lower)
        │   └── Recovery (higher)
        └── Income (higher)

    and rows Programme > (Cash, Training). Effect sizes on every outcome, Harm itself
    included; some studies with several effect sizes (the CHE path), and enough effect sizes
    in the top cells for Egger's test."""
    evidence_map = EvidenceMapFactory(egger_min_k=10)
    wellbeing = OutcomeFactory(evidence_map=evidence_map, name="Wellbeing")
    harm = OutcomeFactory(evidence_map=evidence_map, name="Harm", parent=wellbeing, desirable_direction=Direction.LOWER)
    injuries = OutcomeFactory(evidence_map=evidence_map, name="Injuries", parent=harm,
                              desirable_direction=Direction.LOWER)
    recovery = OutcomeFactory(evidence_map=evidence_map, name="Recovery", parent=harm)
    income = OutcomeFactory(evidence_map=evidence_map, name="Income", parent=wellbeing)
    programme = InterventionFactory(evidence_map=evidence_map, name="Programme")
    cash = InterventionFactory(evidence_map=evidence_map, name="Cash", parent=programme)
    training = InterventionFactory(evidence_map=evidence_map, name="Training", parent=programme)
    rng = np.random.default_rng(3)
    outcomes = [injuries, recovery, income, harm]
    for n in range(16):
        study = StudyFactory(evidence_map=evidence_map)
        for k in range(1 + n % 3):
            EffectSizeFactory(
                study=study, intervention=(cash, training)[n % 2], outcome=outcomes[(n + k) % 4],
                es_value=float(np.round(rng.normal(0.15, 0.3), 3)), es_se=float(np.round(rng.uniform(0.05, 0.3), 3)),
            )
    nodes = {n.name: n for n in (wellbeing, harm, injuries, recovery, income, programme, cash, training)}
    return {"map": evidence_map, **nodes}


def _expected(cell_outcome: Outcome, effects: list[EffectSize]) -> list[float]:
    """The rule written the plain way: in a category column, g times -1 for lower is better."""
    if not Outcome.objects.filter(parent=cell_outcome).exists():
        return [es.g for es in effects]
    return [es.g if es.outcome.desirable_direction == Direction.HIGHER else -es.g for es in effects]


def test_a_map_mixing_directions_at_three_levels(mixed_map) -> None:  # type: ignore[no-untyped-def]
    evidence_map = mixed_map["map"]
    evidence = map_evidence(evidence_map)
    harmonised = 0
    for (i, o), cell in evidence.cells.items():
        if not cell.n_effects:
            continue
        effects = list(EffectSize.objects.filter(pk__in=cell.effect_ids).select_related("outcome").order_by("pk"))
        outcome = Outcome.objects.get(pk=o)
        expected = _expected(outcome, effects)
        assert cell.yi.tolist() == expected, (i, o)
        assert cell.vi.tolist() == [es.var_g for es in effects]
        assert cell.clusters.tolist() == [es.study_id for es in effects]
        # The clustered pooling (CHE where a study has several) saw the oriented values.
        if cell.result is not None:
            fresh = pool_clustered(expected, cell.vi, cell.clusters, rho=evidence_map.within_study_correlation,
                                   method=evidence_map.pooling_method, test=evidence_map.pooling_test)
            assert cell.result.estimate == pytest.approx(fresh.estimate, rel=1e-10)
            higher_is_better = cell.harmonised or outcome.desirable_direction == Direction.HIGHER
            assert cell.label.beneficial == ((cell.result.estimate > 0) == higher_is_better)
        # Egger's test, batched over the map's cells, saw them too.
        if cell.n_effects >= evidence_map.egger_min_k:
            assert cell.egger_p == pytest.approx(egger_test(expected, cell.vi).p_value, rel=1e-8)
        reversed_here = sorted({es.outcome_id for es, y in zip(effects, expected, strict=True) if y != es.g})
        assert sorted(cell.reversed_outcomes) == reversed_here
        harmonised += cell.harmonised and bool(reversed_here)
        # One cell alone is the same cell.
        alone = map_evidence(evidence_map, only=(i, o)).cell(i, o)
        assert alone.yi.tolist() == cell.yi.tolist() and alone.reversed_outcomes == cell.reversed_outcomes
    assert harmonised >= 4
    # The three levels: Harm's own effect sizes are reversed under Harm and under Wellbeing,
    # Injuries' too, Recovery's and Income's never; the leaf columns never reverse.
    top = evidence.cell(mixed_map["Programme"].pk, mixed_map["Wellbeing"].pk)
    middle = evidence.cell(mixed_map["Programme"].pk, mixed_map["Harm"].pk)
    assert set(top.reversed_outcomes) == set(middle.reversed_outcomes) == {mixed_map["Harm"].pk, mixed_map["Injuries"].pk}
    assert top.egger_p is not None and top.result is not None and top.result.model == "CHE"
    for leaf in ("Injuries", "Recovery", "Income"):
        assert not evidence.cell(mixed_map["Programme"].pk, mixed_map[leaf].pk).reversed_outcomes
    assert evidence.cell(mixed_map["Cash"].pk, mixed_map["Injuries"].pk).harmonised is False


def test_orientation_is_part_of_a_cached_fit(mixed_map) -> None:  # type: ignore[no-untyped-def]
    evidence_map = mixed_map["map"]
    members = map_membership(evidence_map, StudyFilters())
    first = pool_rows(evidence_map, members.rows)
    assert pool_rows(evidence_map, members.rows).fitted == 0
    # Recovery becomes "lower is better": the category cells holding it are fitted again,
    # every other cell is read back.
    recovery = mixed_map["Recovery"]
    Outcome.objects.filter(pk=recovery.pk).update(desirable_direction=Direction.LOWER)
    members = map_membership(evidence_map, StudyFilters())
    holding = {int(c) for c, o, rev in zip(members.rows.codes, members.rows.outcomes, members.rows.reversed, strict=True)
               if o == recovery.pk and rev}
    after = pool_rows(evidence_map, members.rows)
    assert after.fitted == len(holding) > 0
    for code in holding:
        assert after.results[code].estimate != first.results[code].estimate


def test_methods_page_explains_the_orientation(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    html = client.get(reverse("portal:methods", kwargs={"slug": demo_map.slug})).content.decode()
    assert "Which way is better" in html and "has its sign reversed" in html
    assert "On this map, lower is better for: Political imprisonment." in html
