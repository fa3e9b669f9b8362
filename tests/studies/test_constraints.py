"""The database itself refuses what validation refuses, for writes that bypass the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from evidence.models import CellSummary, EvidenceMap
from studies.models import EffectSize, Study
from tests.factories import CellSummaryFactory, EffectSizeFactory, InterventionFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "update",
    [
        {"sd_1": 0.0},
        {"sd_2": -2.0},
        {"n_1": 1},
        {"n_total": 3},
        {"ratio": 0.0},
        {"r_value": 1.0},
        {"r_value": -1.0},
        {"p_value": 0.0},
        {"p_value": 1.0},
        {"ci_level": 100.0},
        {"es_se": 0.0},
        {"f_value": -1.0},
        {"baseline_risk": 1.0},
        {"var_g": 0.0},
        {"g": 99.0},  # outside its stored CI
        {"ci_low": 2.0, "ci_high": 1.0},
        {"input_kind": "guess"},
    ],
    ids=lambda u: ",".join(f"{k}={v}" for k, v in u.items()),
)
def test_effect_size_check_constraints(update: dict[str, Any]) -> None:
    es = EffectSizeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EffectSize.objects.filter(pk=es.pk).update(**update)


def test_events_cannot_exceed_the_group_in_the_database() -> None:
    es = EffectSizeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EffectSize.objects.filter(pk=es.pk).update(n_1=10, events_1=11)


@pytest.mark.parametrize("update", [{"year": 1800}, {"design": "anecdote"}, {"status": "live"}, {"confidence": "great"}])
def test_study_check_constraints(update: dict[str, Any]) -> None:
    study = StudyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=study.pk).update(**update)


def test_doi_unique_within_a_map_but_empty_dois_are_many() -> None:
    first = StudyFactory(doi="10.1000/x")
    StudyFactory(evidence_map=first.evidence_map)
    StudyFactory(evidence_map=first.evidence_map)  # two without DOI are fine
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyFactory(evidence_map=first.evidence_map, doi="10.1000/x")


def test_a_confidence_override_needs_a_justification_in_the_database() -> None:
    summary = CellSummaryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CellSummary.objects.filter(pk=summary.pk).update(confidence_override="high", override_justification="")


def test_one_summary_per_cell() -> None:
    summary = CellSummaryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CellSummary.objects.create(
            evidence_map=summary.evidence_map, intervention=summary.intervention, outcome=summary.outcome
        )


@pytest.mark.parametrize("field", ["within_study_correlation", "inconsistency_i2", "egger_alpha"])
def test_map_settings_are_bounded(field: str) -> None:
    evidence_map = StudyFactory().evidence_map
    with pytest.raises(IntegrityError), transaction.atomic():
        EvidenceMap.objects.filter(pk=evidence_map.pk).update(**{field: 101.0})


def test_sibling_names_are_unique_but_may_repeat_under_other_parents() -> None:
    top = InterventionFactory(name="Top")
    InterventionFactory(evidence_map=top.evidence_map, parent=top, name="Child")
    other = InterventionFactory(evidence_map=top.evidence_map, name="Other")
    InterventionFactory(evidence_map=top.evidence_map, parent=other, name="Child")
    with pytest.raises(IntegrityError), transaction.atomic():
        InterventionFactory(evidence_map=top.evidence_map, parent=top, name="Child")
    with pytest.raises(IntegrityError), transaction.atomic():
        InterventionFactory(evidence_map=top.evidence_map, name="Top")


def test_a_framework_node_cannot_become_its_own_ancestor() -> None:
    from django.core.exceptions import ValidationError

    from evidence.services import framework_save

    top = InterventionFactory()
    child = InterventionFactory(evidence_map=top.evidence_map, parent=top)
    top.parent = child
    with pytest.raises(ValidationError) as exc:
        framework_save(instance=top, user=None)
    assert "parent" in exc.value.message_dict
