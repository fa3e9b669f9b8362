"""What changed between releases: each kind of change is listed, and nothing else is."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from evidence.models import CodeSet, EvidenceMap, Intervention, Outcome
from evidence.releases.compare import (
    Comparison,
    changed_cells,
    compare_documents,
    release_document,
    working_document,
)
from evidence.releases.services import release_map
from studies.models import AppraisalItem, EffectSize, Status, Study
from studies.services import save_validated
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Small:
    map: EvidenceMap
    i1: Intervention
    o1: Outcome
    o2: Outcome
    studies: list[Study]


def _study(m: EvidenceMap, i: Intervention, o: Outcome, g: float) -> Study:
    study = StudyFactory(evidence_map=m)
    study.interventions.add(i)
    study.outcomes.add(o)
    EffectSizeFactory(study=study, intervention=i, outcome=o, es_value=g, es_se=0.1)
    return study


@pytest.fixture
def small() -> Small:
    """One intervention, two outcomes; three studies in the first cell (g 0.2, 0.25, 0.3), the
    second cell a gap."""
    m = EvidenceMapFactory()
    i1 = InterventionFactory(evidence_map=m, name="Training")
    o1 = OutcomeFactory(evidence_map=m, name="Knowledge")
    o2 = OutcomeFactory(evidence_map=m, name="Practice")
    studies = [_study(m, i1, o1, g) for g in (0.2, 0.25, 0.3)]
    return Small(m, i1, o1, o2, studies)


def _since_release(small: Small) -> Comparison:
    """Release 1 is made first by each test; this compares it with the working copy now."""
    release = small.map.releases.get(number=1)
    small.map.refresh_from_db()
    return compare_documents(release_document(release), working_document(small.map))


def _release(small: Small) -> None:
    release_map(evidence_map=small.map, user=None, notes="first")


def _kinds(comparison: Comparison) -> dict[str, int]:
    return {k: v for k, v in comparison.counts.items() if v}


def test_nothing_changed_lists_nothing(small: Small) -> None:
    _release(small)
    assert _since_release(small).is_empty


def test_study_added(small: Small) -> None:
    _release(small)
    new = _study(small.map, small.i1, small.o1, 0.9)
    comparison = _since_release(small)
    assert [s.id for s in comparison.studies_added] == [new.pk]
    assert comparison.studies_added[0].citation.startswith(new.authors.split(",")[0])
    assert not comparison.studies_removed and not comparison.studies_recoded and not comparison.framework
    (cell,) = comparison.cells
    assert (cell.intervention_id, cell.outcome_id) == (small.i1.pk, small.o1.pk)
    assert cell.n_studies == (3, 4) and cell.n_effects == (3, 4)
    assert cell.estimate[0] is not None and cell.estimate[1] is not None and cell.estimate[1] > cell.estimate[0]


def test_study_removed(small: Small) -> None:
    _release(small)
    gone = small.studies[0]
    gone_id = gone.pk
    gone.delete()
    comparison = _since_release(small)
    assert [s.id for s in comparison.studies_removed] == [gone_id]
    assert _kinds(comparison) == {"studies_removed": 1, "cells": 1}
    assert comparison.cells[0].n_studies == (3, 2)


def test_study_unpublished_counts_as_removed(small: Small) -> None:
    _release(small)
    study = small.studies[1]
    study.status = Status.DRAFT
    study.save()
    comparison = _since_release(small)
    assert [s.id for s in comparison.studies_removed] == [study.pk]
    assert not comparison.studies_added and not comparison.studies_recoded


def test_recoded_field(small: Small) -> None:
    _release(small)
    study = small.studies[2]
    study.population = "Teachers"
    study.save()
    comparison = _since_release(small)
    assert _kinds(comparison) == {"studies_recoded": 1}
    (recoded,) = comparison.studies_recoded
    assert recoded.id == study.pk
    assert [(f.field, f.before, f.after) for f in recoded.fields] == [("population", "", "Teachers")]
    assert not recoded.codings and not recoded.effect_sizes and not recoded.appraisals


def test_coding_change(small: Small) -> None:
    _release(small)
    study = small.studies[0]
    study.outcomes.add(small.o2)
    comparison = _since_release(small)
    (recoded,) = comparison.studies_recoded
    assert [(c.kind, c.added, c.removed) for c in recoded.codings] == [("outcome", ["Practice"], [])]
    assert not recoded.fields
    # The second cell was a gap and now has a study (not pooled: no effect size there).
    (cell,) = comparison.cells
    assert cell.outcome_id == small.o2.pk
    assert cell.label == ("gap", "evidence") and cell.status == "gap_to_evidence"
    assert cell.n_studies == (0, 1)


def test_code_added_to_a_study(small: Small) -> None:
    code_set = CodeSet.objects.create(evidence_map=small.map, name="Setting")
    code = code_set.codes.create(name="Urban")
    _release(small)
    small.studies[0].codes.add(code)
    (recoded,) = _since_release(small).studies_recoded
    assert [(c.kind, c.added) for c in recoded.codings] == [("code", ["Urban"])]


def test_appraisal_added(small: Small) -> None:
    _release(small)
    study = small.studies[0]
    AppraisalItem.objects.create(study=study, criterion="design", rating="yes")
    (recoded,) = _since_release(small).studies_recoded
    assert [(r.change, r.name) for r in recoded.appraisals] == [("added", "design")]


def test_effect_size_added(small: Small) -> None:
    _release(small)
    study = small.studies[0]
    es = EffectSizeFactory(study=study, intervention=small.i1, outcome=small.o1, es_value=0.4, es_se=0.2)
    comparison = _since_release(small)
    (recoded,) = comparison.studies_recoded
    assert [(r.id, r.change) for r in recoded.effect_sizes] == [(es.pk, "added")]
    (cell,) = comparison.cells
    assert cell.n_studies == (3, 3) and cell.n_effects == (3, 4)


def test_effect_size_changed(small: Small) -> None:
    _release(small)
    es = EffectSize.objects.get(study=small.studies[1])
    es.es_value = 0.6
    save_validated(instance=es, user=None)
    comparison = _since_release(small)
    (recoded,) = comparison.studies_recoded
    (row,) = recoded.effect_sizes
    assert row.change == "changed" and row.id == es.pk
    changed = {f.field: (f.before, f.after) for f in row.fields}
    assert changed["es_value"] == (0.25, 0.6)
    assert "g" in changed  # the derived g moves with its input
    (cell,) = comparison.cells
    assert cell.n_effects == (3, 3) and cell.estimate[0] != cell.estimate[1]
    assert cell.ci_low[0] != cell.ci_low[1]


def test_framework_node_renamed(small: Small) -> None:
    _release(small)
    small.o1.name = "Knowledge of rights"
    small.o1.save()
    comparison = _since_release(small)
    assert _kinds(comparison) == {"framework": 1}
    (node,) = comparison.framework
    assert (node.kind, node.id, node.change, node.name, node.before) == (
        "outcome", small.o1.pk, "renamed", "Knowledge of rights", "Knowledge"
    )


def test_framework_node_added_and_removed(small: Small) -> None:
    _release(small)
    InterventionFactory(evidence_map=small.map, name="Mentoring")
    small.o2.delete()
    changes = {(n.kind, n.change, n.name) for n in _since_release(small).framework}
    assert changes == {("intervention", "added", "Mentoring"), ("outcome", "removed", "Practice")}


def test_cell_label_change(small: Small) -> None:
    _release(small)
    before = release_document(small.map.releases.get(number=1))["cells"][f"{small.i1.pk}/{small.o1.pk}"]
    for study in small.studies:  # every effect near zero: the label's band moves down
        es = EffectSize.objects.get(study=study)
        es.es_value = 0.01
        save_validated(instance=es, user=None)
    (cell,) = _since_release(small).cells
    assert cell.label_changed and cell.status == "changed"
    assert cell.label[0] == before["label"]["text"] and cell.label[1] != cell.label[0]
    assert "gap" not in cell.label


def test_evidence_to_gap(small: Small) -> None:
    _release(small)
    for study in small.studies:
        study.delete()
    comparison = _since_release(small)
    (cell,) = comparison.cells
    assert cell.label[1] == "gap" and cell.status == "evidence_to_gap" and cell.n_studies == (3, 0)
    assert len(comparison.studies_removed) == 3


def test_two_releases_and_changed_cells(small: Small) -> None:
    _release(small)
    assert changed_cells(small.map, small.map.releases.get(number=1)) == []  # nothing before it
    _study(small.map, small.i1, small.o2, 0.5)
    small.map.refresh_from_db()
    working = changed_cells(small.map, None)
    assert [(c.intervention_id, c.outcome_id) for c in working] == [(small.i1.pk, small.o2.pk)]
    second = release_map(evidence_map=small.map, user=None, notes="second")
    between = compare_documents(release_document(small.map.releases.get(number=1)), release_document(second))
    assert [c.outcome_id for c in between.cells] == [small.o2.pk] and len(between.studies_added) == 1
    assert [c.outcome_id for c in changed_cells(small.map, second)] == [small.o2.pk]
