"""Every change to studies, effect sizes and summaries is recorded with who and when."""

from __future__ import annotations

import pytest

from evidence.services import framework_save
from studies import services
from tests.conftest import grant
from tests.factories import CellSummaryFactory, EffectSizeFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_study_changes_record_the_user_and_the_old_values() -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    evidence_map = StudyFactory().evidence_map
    grant(alice, evidence_map, "reviewer")
    grant(bob, evidence_map, "reviewer")
    study = services.study_create(
        user=alice, evidence_map=evidence_map, authors="Lind, P.", year=2012,
        title="First title", design="rct",
    )
    services.study_update(study=study, user=bob, data={"title": "Second title"})
    records = list(study.history.order_by("history_date"))
    assert [r.title for r in records] == ["First title", "Second title"]
    assert [r.history_user for r in records] == [alice, bob]
    assert [r.history_type for r in records] == ["+", "~"]
    assert study.created_by == alice and study.updated_by == bob


def test_effect_size_deletion_is_recorded() -> None:
    user = UserFactory()
    es = EffectSizeFactory()
    grant(user, es.study.evidence_map, "reviewer")
    pk = es.pk
    services.effect_size_delete(effect_size=es, user=user)
    record = es.history.model.objects.filter(id=pk).latest("history_date")
    assert record.history_type == "-" and record.history_user == user


def test_cell_summary_changes_are_recorded() -> None:
    user = UserFactory()
    summary = CellSummaryFactory()
    grant(user, summary.evidence_map, "editor")
    summary.short_summary = "Updated."
    framework_save(instance=summary, user=user)
    assert summary.history.first().history_user == user
    assert summary.history.first().short_summary == "Updated."
