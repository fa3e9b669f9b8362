"""Cell membership computed with arrays equals the plain definition, cell by cell, on maps with
deeper trees than the generator makes; and each cell's fit is reused from the shared cache
until what it rests on changes."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest
from django.db import connection

from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.selectors import framework_tree
from evidence.synthesis import map_evidence
from evidence.synthesis.membership import _columns, _fetch, map_membership
from evidence.synthesis.pooling import pool_rows
from interchange.generate import generate_map
from studies.models import EffectSize, Region, Status, Study
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


def tree(factory: type, evidence_map: EvidenceMap, shape: tuple[int, ...]) -> list[object]:
    """Nodes of a tree with `shape[d]` children per node at depth d; every node returned."""
    nodes: list[object] = []
    level: list[object | None] = [None]
    for width in shape:
        below = []
        for parent in level:
            for _ in range(width):
                below.append(factory(evidence_map=evidence_map, parent=parent))
        nodes += below
        level = below
    return nodes


def reference(evidence_map: EvidenceMap) -> tuple[dict[tuple[int, int], set[int]], dict[tuple[int, int], list[int]]]:
    """The definition, written the plain way: a published study is in every cell whose row and
    column are ancestors (or self) of one of its codings, and each effect size in every cell
    above its own, bringing its study."""
    rows = framework_tree(Intervention, evidence_map)
    cols = framework_tree(Outcome, evidence_map)
    studies = {s.pk: s for s in Study.objects.filter(evidence_map=evidence_map, status=Status.PUBLISHED)}
    cell_studies: dict[tuple[int, int], set[int]] = defaultdict(set)
    for study in studies.values():
        row_set = {a for i in study.interventions.all() for a in rows[i.pk].ancestors}
        col_set = {a for o in study.outcomes.all() for a in cols[o.pk].ancestors}
        for i in row_set:
            for o in col_set:
                cell_studies[(i, o)].add(study.pk)
    cell_effects: dict[tuple[int, int], list[int]] = defaultdict(list)
    for es in EffectSize.objects.filter(study__in=list(studies)).order_by("pk"):
        for i in rows[es.intervention_id].ancestors:
            for o in cols[es.outcome_id].ancestors:
                cell_studies[(i, o)].add(es.study_id)
                cell_effects[(i, o)].append(es.pk)
    return cell_studies, cell_effects


@pytest.fixture
def deep_map() -> EvidenceMap:
    """Three levels of rows, two of columns; codings at every level, drafts, and effect sizes
    whose study is not coded with their row (they still bring the study into the cell)."""
    rnd = random.Random(7)
    evidence_map = EvidenceMapFactory()
    rows = tree(InterventionFactory, evidence_map, (2, 2, 2))
    cols = tree(OutcomeFactory, evidence_map, (3, 2))
    for n in range(40):
        study = StudyFactory(
            evidence_map=evidence_map, status=Status.DRAFT if n % 9 == 0 else Status.PUBLISHED,
            design=rnd.choice(["rct", "did", "matching"]), confidence=rnd.choice(["high", "medium", "low", ""]),
            countries=rnd.choice([["KE"], ["KE", "BR"], ["FR"], []]),
        )
        study.interventions.set(rnd.sample(rows, rnd.randint(0, 3)))
        study.outcomes.set(rnd.sample(cols, rnd.randint(0, 2)))
        for _ in range(rnd.randint(0, 4)):
            EffectSizeFactory(study=study, intervention=rnd.choice(rows), outcome=rnd.choice(cols))
    return evidence_map


def test_membership_equals_the_definition_on_a_deep_map(deep_map: EvidenceMap) -> None:
    members = map_membership(deep_map, StudyFilters())
    expected_studies, expected_effects = reference(deep_map)
    got_studies = {
        key: set(members.pair_studies[members.study_bounds[c] : members.study_bounds[c + 1]].tolist())
        for c, key in enumerate(members.keys)
    }
    got_effects = {
        key: members.rows.ids[members.effect_bounds[c] : members.effect_bounds[c + 1]].tolist()
        for c, key in enumerate(members.keys)
    }
    assert got_studies == dict(expected_studies)
    assert {k: v for k, v in got_effects.items() if v} == dict(expected_effects)
    # Effect rows: sorted by cell then id, with the effect size's own numbers and study.
    by_id = {es.pk: es for es in EffectSize.objects.filter(study__evidence_map=deep_map)}
    for code, es_id, study_id, yi, vi in zip(
        members.rows.codes.tolist(), members.rows.ids.tolist(), members.rows.clusters.tolist(),
        members.rows.yi.tolist(), members.rows.vi.tolist(), strict=True,
    ):
        assert by_id[es_id].study_id == study_id and (by_id[es_id].g, by_id[es_id].var_g) == (yi, vi)
        assert es_id in expected_effects[members.keys[code]]
    assert members.n_studies == Study.objects.filter(evidence_map=deep_map, status=Status.PUBLISHED).count()


def test_every_cell_of_a_deep_map_alone_equals_the_whole_map(deep_map: EvidenceMap) -> None:
    whole = map_evidence(deep_map)
    assert whole.cells
    for key, cell in whole.cells.items():
        alone = map_evidence(deep_map, only=key).cell(*key)
        assert alone.study_ids == cell.study_ids and alone.effect_ids == cell.effect_ids
        assert alone.designs == cell.designs and alone.region == cell.region
        assert (alone.result is None) == (cell.result is None)
        if cell.result is not None:
            assert alone.result.estimate == pytest.approx(cell.result.estimate, rel=1e-12)


def test_designs_and_regions_of_a_cell_count_its_studies(deep_map: EvidenceMap) -> None:
    for key, cell in map_evidence(deep_map).cells.items():
        studies = list(Study.objects.filter(pk__in=cell.study_ids))
        designs: dict[str, int] = defaultdict(int)
        for study in studies:
            designs[study.design] += 1
        assert cell.designs == dict(designs), key
        regions = {s.region for s in studies if s.region}
        assert cell.region == (Region.GLOBAL if len(regions) > 1 or Region.GLOBAL in regions else next(iter(regions), ""))


def test_columns_read_the_same_numbers_as_rows() -> None:
    evidence_map = generate_map("columns", studies=60, effect_sizes=300, seed=5)
    query = EffectSize.objects.filter(study__evidence_map=evidence_map).order_by().values_list(
        "id", "study_id", "intervention_id", "outcome_id", "g", "var_g"
    )
    rows = sorted(_fetch(query))
    columns = _columns(query, "iiiiff")
    order = np.argsort(columns[0])
    assert [tuple(c[order][n].item() for c in columns) for n in range(len(rows))] == rows
    assert [c.size for c in _columns(query.none(), "iiiiff")] == [0] * 6
    assert [c.size for c in _columns(query.filter(g__gt=1e9), "iiiiff")] == [0] * 6
    assert connection.vendor in ("postgresql", "sqlite")


def test_a_fit_is_reused_until_its_effect_sizes_change() -> None:
    evidence_map = generate_map("reuse", studies=120, effect_sizes=600, seed=11)
    members = map_membership(evidence_map, StudyFilters())
    first = pool_rows(evidence_map, members.rows)
    assert first.fitted == len(set(members.rows.codes.tolist())) > 10
    again = pool_rows(evidence_map, members.rows)
    assert again.fitted == 0
    assert {c: r.estimate for c, r in again.results.items()} == {c: r.estimate for c, r in first.results.items()}
    assert again.egger_p == first.egger_p and again.not_pooled == first.not_pooled

    # One effect size changes: only the cells that hold it are fitted again.
    changed = EffectSize.objects.filter(study__evidence_map=evidence_map).order_by("pk").first()
    assert changed is not None
    EffectSize.objects.filter(pk=changed.pk).update(var_g=changed.var_g * 2, se_g=changed.se_g * 2)
    members = map_membership(evidence_map, StudyFilters())
    holding = {int(c) for c, es_id in zip(members.rows.codes, members.rows.ids, strict=True) if es_id == changed.pk}
    after = pool_rows(evidence_map, members.rows)
    assert after.fitted == len(holding) > 0
    fresh = pool_rows(EvidenceMap(
        within_study_correlation=0.5, pooling_method=evidence_map.pooling_method,
        pooling_test=evidence_map.pooling_test, egger_min_k=evidence_map.egger_min_k,
    ), members.rows)
    assert fresh.fitted == len(set(members.rows.codes.tolist()))  # other settings, other fits

    # A cached fit equals a fresh one exactly.
    from django.core.cache import cache

    cache.clear()
    recomputed = pool_rows(evidence_map, members.rows)
    assert recomputed.fitted == len(set(members.rows.codes.tolist()))
    for code, result in recomputed.results.items():
        assert after.results[code].estimate == result.estimate and after.results[code].ci_low == result.ci_low
