"""map_evidence: cell membership, aggregate cells, and cells that cannot be pooled."""

from __future__ import annotations

import pytest

from evidence.filters import StudyFilters
from evidence.stats import pool_clustered
from evidence.synthesis import map_evidence
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


def test_one_study_with_several_effect_sizes_is_shown_but_not_pooled() -> None:
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    study = StudyFactory(evidence_map=evidence_map)
    for g in (0.1, 0.2, 0.3):
        EffectSizeFactory(study=study, intervention=row, outcome=col, es_value=g)
    cell = map_evidence(evidence_map).cell(row.pk, col.pk)
    assert (cell.n_studies, cell.n_effects) == (1, 3)
    assert cell.result is None and cell.label is None
    assert "one study" in cell.not_pooled_reason


def test_a_category_cell_pools_the_effect_sizes_of_its_children() -> None:
    evidence_map = EvidenceMapFactory()
    top = InterventionFactory(evidence_map=evidence_map, name="Category")
    children = [InterventionFactory(evidence_map=evidence_map, parent=top) for _ in range(2)]
    col = OutcomeFactory(evidence_map=evidence_map)
    values = [(0.1, 0.1), (0.3, 0.12), (0.25, 0.08), (0.05, 0.2)]
    for i, (g, se) in enumerate(values):
        EffectSizeFactory(
            study=StudyFactory(evidence_map=evidence_map), intervention=children[i % 2], outcome=col,
            es_value=g, es_se=se,
        )
    evidence = map_evidence(evidence_map)
    aggregate = evidence.cell(top.pk, col.pk)
    assert (aggregate.n_studies, aggregate.n_effects) == (4, 4)
    expected = pool_clustered([g for g, _ in values], [se**2 for _, se in values], [0, 1, 2, 3])
    assert aggregate.result.estimate == pytest.approx(expected.estimate, rel=1e-10)
    assert evidence.cell(children[0].pk, col.pk).n_effects == 2


def test_filters_change_the_pooled_result() -> None:
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    for year, g in ((2005, 0.5), (2010, 0.1), (2020, 0.2), (2021, 0.3)):
        EffectSizeFactory(
            study=StudyFactory(evidence_map=evidence_map, year=year), intervention=row, outcome=col, es_value=g
        )
    everything = map_evidence(evidence_map).cell(row.pk, col.pk)
    recent = map_evidence(evidence_map, StudyFilters(year_min=2015)).cell(row.pk, col.pk)
    assert (everything.n_studies, recent.n_studies) == (4, 2)
    assert recent.result.estimate == pytest.approx(0.25, abs=1e-12)  # equal SEs, tau² = 0 here
    assert everything.result.estimate != pytest.approx(recent.result.estimate)


def test_drafts_are_never_pooled() -> None:
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    EffectSizeFactory(study=StudyFactory(evidence_map=evidence_map), intervention=row, outcome=col)
    EffectSizeFactory(
        study=StudyFactory(evidence_map=evidence_map, status="draft"), intervention=row, outcome=col
    )
    cell = map_evidence(evidence_map).cell(row.pk, col.pk)
    assert (cell.n_studies, cell.n_effects) == (1, 1)
