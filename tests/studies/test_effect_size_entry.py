"""Entering an effect size in the admin: the live-preview endpoint (the model's own conversion,
for reviewers of the map only) and the form that shows each input kind's boxes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studies import services
from studies.admin import KIND_FIELDS
from studies.effect_sizes.registry import INPUT_FIELDS, INPUT_KIND_SPECS
from studies.models import EffectSize
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)
from tests.hostile import NUMBERS
from tests.studies.test_input_kind_registry import EXAMPLES

pytestmark = pytest.mark.django_db

URL = "admin:studies_effectsize_compute"


def compute(client: Client, **data: Any) -> Any:
    return client.post(reverse(URL), {k: str(v) for k, v in data.items()})


@pytest.mark.parametrize("kind", list(INPUT_KIND_SPECS))
def test_the_preview_of_each_kind_is_what_a_save_stores(client: Client, reviewer: Any, kind: str) -> None:
    study = StudyFactory()
    client.force_login(reviewer)
    values = EXAMPLES[kind].values
    answer = compute(client, study=study.pk, input_kind=kind, **values)
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is True, body

    saved = services.effect_size_create(
        user=reviewer, study=study, intervention=InterventionFactory(evidence_map=study.evidence_map),
        outcome=OutcomeFactory(evidence_map=study.evidence_map), label="saved", input_kind=kind, **values,
    )
    for name in ("g", "var_g", "se_g", "ci_low_g", "ci_high_g", "native_metric", "native_yi", "native_vi"):
        assert body[name] == getattr(saved, name), name
    assert body["note"] == saved.conversion_note
    assert body["ci_level"] == 95
    assert body["display"]["g_display"] == f"{saved.g:.3f}"
    assert body["display"]["ci_display"] == f"[{saved.ci_low_g:.3f}, {saved.ci_high_g:.3f}]"
    assert EffectSize.objects.count() == 1  # the preview saved nothing


def test_a_new_study_is_previewed_by_its_map(client: Client, reviewer: Any) -> None:
    evidence_map = EvidenceMapFactory()
    client.force_login(reviewer)
    answer = compute(client, evidence_map=evidence_map.pk, input_kind="es_se", es_value="0.25", es_se="0.1")
    assert answer.json()["valid"] is True
    assert answer.json()["g"] == pytest.approx(0.25)


def test_an_invalid_input_names_its_field(client: Client, reviewer: Any) -> None:
    study = StudyFactory()
    client.force_login(reviewer)
    values = {**EXAMPLES["means"].values, "sd_1": -1}
    body = compute(client, study=study.pk, input_kind="means", **values).json()
    assert body["valid"] is False
    assert list(body["errors"]) == ["sd_1"]
    assert "greater than 0" in body["errors"]["sd_1"][0]


def test_a_missing_input_and_a_bad_number_are_named(client: Client, reviewer: Any) -> None:
    study = StudyFactory()
    client.force_login(reviewer)
    body = compute(client, study=study.pk, input_kind="es_se", es_value="0.2").json()
    assert body["valid"] is False
    assert body["errors"]["es_se"][0].startswith("es_se is missing")

    body = compute(client, study=study.pk, input_kind="es_se", es_value="abc", es_se="0.1").json()
    assert list(body["errors"]) == ["es_value"]

    body = compute(client, study=study.pk, input_kind="no-such-kind", es_value="0.2", es_se="0.1").json()
    assert "input_kind" in body["errors"]


def test_an_input_of_another_kind_is_refused_on_its_field(client: Client, reviewer: Any) -> None:
    study = StudyFactory()
    client.force_login(reviewer)
    body = compute(client, study=study.pk, input_kind="es_se", es_value="0.2", es_se="0.1", r_value="0.3").json()
    assert body["valid"] is False and list(body["errors"]) == ["r_value"]
    assert "Not used for" in body["errors"]["r_value"][0]


def test_anonymous_and_non_staff_users_are_sent_to_the_login(client: Client, member: Any) -> None:
    study = StudyFactory()
    answer = compute(client, study=study.pk, input_kind="es_se", es_value="0.2", es_se="0.1")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]

    outsider = member("reviewer", study.evidence_map)
    outsider.is_staff = False
    outsider.save()
    client.force_login(outsider)
    answer = compute(client, study=study.pk, input_kind="es_se", es_value="0.2", es_se="0.1")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


@pytest.mark.parametrize("role", [None, "viewer"], ids=["reviewer-elsewhere", "viewer"])
def test_staff_without_the_reviewer_role_on_the_map_are_refused(client: Client, member: Any, role: str | None) -> None:
    study = StudyFactory()
    # A viewer of the study's map, or a reviewer of another map only.
    user = member("viewer", study.evidence_map) if role else member("reviewer", EvidenceMapFactory())
    client.force_login(user)
    for where in ({"study": study.pk}, {"evidence_map": study.evidence_map_id}, {"study": 10**9}):
        answer = compute(client, **where, input_kind="es_se", es_value="0.2", es_se="0.1")
        assert answer.status_code == 403, where
        assert "reviewer role" in answer.json()["detail"]
        assert "g" not in answer.json()


def test_a_reviewer_of_the_map_is_allowed(client: Client, member: Any) -> None:
    study = StudyFactory()
    client.force_login(member("reviewer", study.evidence_map))
    answer = compute(client, study=study.pk, input_kind="es_se", es_value="0.2", es_se="0.1")
    assert answer.status_code == 200 and answer.json()["valid"] is True


def test_the_preview_needs_a_study_or_a_map_and_a_post(client: Client, reviewer: Any) -> None:
    client.force_login(reviewer)
    answer = compute(client, input_kind="es_se", es_value="0.2", es_se="0.1")
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["study"]
    assert client.get(reverse(URL), {"study": "1"}).status_code == 405


def test_the_preview_checks_the_csrf_token(reviewer: Any) -> None:
    study = StudyFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    answer = compute(client, study=study.pk, input_kind="es_se", es_value="0.2", es_se="0.1")
    assert answer.status_code == 403
    assert "CSRF" in answer.content.decode() and '"valid"' not in answer.content.decode()


@pytest.mark.parametrize("name", list(NUMBERS))
@pytest.mark.parametrize("field", ["es_value", "es_se"])
def test_hostile_numbers_get_an_answer_naming_their_field(client: Client, reviewer: Any, field: str, name: str) -> None:
    study = StudyFactory()
    client.force_login(reviewer)
    value = NUMBERS[name]
    values = {"es_value": "0.2", "es_se": "0.1", field: value if isinstance(value, str) else json.dumps(value)}
    answer = compute(client, study=study.pk, input_kind="es_se", **values)
    assert answer.status_code == 200
    body = answer.json()
    if body["valid"]:
        assert abs(body["g"]) <= 10 and 0 < body["var_g"] <= 100
    else:
        assert field in body["errors"], body
    assert EffectSize.objects.count() == 0


# --- the form ---


def _kinds_attribute(html: str) -> dict[str, Any]:
    found = re.search(r'data-input-kinds="([^"]*)"', html)
    assert found, "the kind's drop-down carries no data-input-kinds"
    return json.loads(found.group(1).replace("&quot;", '"'))  # type: ignore[no-any-return]


def test_the_effect_size_form_carries_each_kinds_boxes_from_the_registry(client: Client, reviewer: Any) -> None:
    es = EffectSizeFactory()
    client.force_login(reviewer)
    page = client.get(reverse("admin:studies_effectsize_change", args=[es.pk])).content.decode()
    kinds = _kinds_attribute(page)
    assert kinds == KIND_FIELDS
    for name, spec in INPUT_KIND_SPECS.items():
        assert kinds[name] == {"required": list(spec.required), "optional": list(spec.optional)}
    assert f'data-compute-url="{reverse(URL)}"' in page
    assert "studies/admin/effect_size.js" in page and "studies/admin/effect_size.css" in page
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []  # the data is an attribute: no inline script
    # Every input box is there for the page without script, on one wrapping line ...
    for name in INPUT_FIELDS:
        assert f'class="flex-container fieldBox field-{name}' in page, name
    # ... with the guide naming each kind's boxes.
    assert "Which boxes each input kind reads" in page
    for spec in INPUT_KIND_SPECS.values():
        assert spec.label.replace("'", "&#x27;") in page
    assert "<strong>Odds ratio with confidence interval</strong>: Ratio, CI low, CI high, CI level (%) (optional)" in page


def test_each_inline_effect_size_of_a_study_carries_the_kinds(client: Client, reviewer: Any) -> None:
    study = StudyFactory()
    for _ in range(3):
        EffectSizeFactory(study=study)
    client.force_login(reviewer)
    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()
    # Three effect sizes and the blank form that "Add another" copies.
    assert page.count('data-input-kinds="') == 4
    assert page.count('name="effect_sizes-0-input_kind"') == 1
    assert "studies/admin/effect_size.js" in page


@pytest.mark.parametrize("kind", list(INPUT_KIND_SPECS))
def test_the_admin_form_saves_each_kind_through_the_service(client: Client, reviewer: Any, kind: str) -> None:
    study = StudyFactory()
    intervention = InterventionFactory(evidence_map=study.evidence_map)
    outcome = OutcomeFactory(evidence_map=study.evidence_map)
    client.force_login(reviewer)
    # Only the kind's boxes are sent, as the page's script sends them (the others are disabled).
    data = {"study": study.pk, "intervention": intervention.pk, "outcome": outcome.pk, "label": kind,
            "input_kind": kind, **{k: str(v) for k, v in EXAMPLES[kind].values.items()}}
    preview = compute(client, study=study.pk, input_kind=kind, **EXAMPLES[kind].values).json()
    answer = client.post(reverse("admin:studies_effectsize_add"), data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    saved = EffectSize.objects.get(label=kind)
    assert saved.g == preview["g"] and saved.se_g == preview["se_g"]
    assert saved.created_by == reviewer and saved.history.first().history_user == reviewer
