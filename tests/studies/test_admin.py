"""The reviewer admin: inline effect sizes, field errors, computed values, actions, history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studies.models import EffectSize, Study
from tests.factories import EffectSizeFactory, InterventionFactory, OutcomeFactory, StudyFactory

pytestmark = pytest.mark.django_db


def study_form(study_map_id: int, effects: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "evidence_map": study_map_id, "status": "draft", "external_id": "",
        "authors": "Okafor, N.; Lind, P.", "year": "2019", "title": "A trial", "source": "", "doi": "",
        "url": "", "abstract": "", "countries": ["KE"], "population": "", "design": "rct",
        "confidence": "medium",
        "appraisal_items-TOTAL_FORMS": "0", "appraisal_items-INITIAL_FORMS": "0",
        "appraisal_items-MIN_NUM_FORMS": "0", "appraisal_items-MAX_NUM_FORMS": "1000",
        "effect_sizes-TOTAL_FORMS": str(len(effects)), "effect_sizes-INITIAL_FORMS": "0",
        "effect_sizes-MIN_NUM_FORMS": "0", "effect_sizes-MAX_NUM_FORMS": "1000",
    }
    for i, effect in enumerate(effects):
        for key, value in effect.items():
            data[f"effect_sizes-{i}-{key}"] = value
    data.update(overrides)
    return data


@pytest.fixture
def framework() -> tuple[Any, Any]:
    intervention = InterventionFactory()
    outcome = OutcomeFactory(evidence_map=intervention.evidence_map)
    return intervention, outcome


def means(intervention: Any, outcome: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "intervention": intervention.pk, "outcome": outcome.pk, "label": "T vs C", "input_kind": "means",
        "mean_1": "10", "sd_1": "2", "n_1": "30", "mean_2": "9", "sd_2": "2.5", "n_2": "32", **overrides,
    }


def test_reviewer_adds_a_study_with_an_inline_effect_size(client: Client, reviewer: Any, framework: Any) -> None:
    intervention, outcome = framework
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:studies_study_add"),
        study_form(intervention.evidence_map_id, [means(intervention, outcome)]),
    )
    assert response.status_code == 302, response.context["errors"] if response.context else response
    study = Study.objects.get()
    es = study.effect_sizes.get()
    assert es.g == pytest.approx(0.4345904769, rel=1e-9)
    assert study.created_by == reviewer and es.created_by == reviewer
    assert list(study.interventions.all()) == [intervention]

    page = client.get(reverse("admin:studies_study_change", args=[study.pk]))
    assert page.status_code == 200
    assert b"0.435" in page.content  # the computed g is shown after saving


def test_an_invalid_inline_is_shown_on_its_field_and_nothing_is_saved(
    client: Client, reviewer: Any, framework: Any
) -> None:
    intervention, outcome = framework
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:studies_study_add"),
        study_form(intervention.evidence_map_id, [means(intervention, outcome, sd_1="-1")]),
    )
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][1].formset
    assert "sd_1" in formset.forms[0].errors
    assert "greater than 0" in str(formset.forms[0].errors["sd_1"])
    assert Study.objects.count() == 0 and EffectSize.objects.count() == 0


def test_a_future_year_is_shown_on_the_year_field(client: Client, reviewer: Any, framework: Any) -> None:
    intervention, _ = framework
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:studies_study_add"), study_form(intervention.evidence_map_id, [], year="2999")
    )
    assert response.status_code == 200
    assert "year" in response.context["adminform"].form.errors
    assert Study.objects.count() == 0


def test_publish_and_unpublish_actions_are_recorded(client: Client, reviewer: Any) -> None:
    drafts = [StudyFactory(status="draft"), StudyFactory(status="draft")]
    client.force_login(reviewer)
    url = reverse("admin:studies_study_changelist")
    response = client.post(url, {"action": "publish", "_selected_action": [s.pk for s in drafts]})
    assert response.status_code == 302
    assert set(Study.objects.values_list("status", flat=True)) == {"published"}
    latest = drafts[0].history.first()
    assert latest.status == "published" and latest.history_user == reviewer

    client.post(url, {"action": "unpublish", "_selected_action": [drafts[0].pk]})
    assert Study.objects.get(pk=drafts[0].pk).status == "draft"
    assert Study.objects.get(pk=drafts[1].pk).status == "published"


def test_history_is_viewable_in_the_admin(client: Client, reviewer: Any) -> None:
    es = EffectSizeFactory()
    client.force_login(reviewer)
    client.post(
        reverse("admin:studies_effectsize_change", args=[es.pk]),
        {"study": es.study_id, "intervention": es.intervention_id, "outcome": es.outcome_id,
         "label": "renamed", "input_kind": "es_se", "es_value": "0.3", "es_se": "0.1"},
    )
    es.refresh_from_db()
    assert es.label == "renamed" and es.g == pytest.approx(0.3)
    page = client.get(reverse("admin:studies_effectsize_history", args=[es.pk]))
    assert page.status_code == 200
    assert b"reviewer" in page.content
    record = es.history.first()
    assert record.history_user == reviewer and record.label == "renamed"


def test_anonymous_users_cannot_reach_the_admin(client: Client) -> None:
    response = client.get(reverse("admin:studies_study_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
