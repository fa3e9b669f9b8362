"""Each invalid input is rejected on the field that is wrong, and the data stay as they were."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict

from studies import services
from studies.models import EffectSize, Study
from tests.conftest import grant
from tests.factories import EffectSizeFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

MEANS = {"input_kind": "means", "es_value": None, "es_se": None,
         "mean_1": 10.0, "sd_1": 2.0, "n_1": 30, "mean_2": 9.0, "sd_2": 2.5, "n_2": 32}
COUNTS = {"input_kind": "counts_2x2", "es_value": None, "es_se": None,
          "events_1": 12, "n_1": 40, "events_2": 20, "n_2": 41}
ODDS = {"input_kind": "odds_ratio_ci", "es_value": None, "es_se": None,
        "ratio": 1.5, "ci_low": 1.1, "ci_high": 2.0, "ci_level": 95.0}
RISK = {"input_kind": "risk_ratio_ci", "es_value": None, "es_se": None,
        "ratio": 1.3, "ci_low": 1.05, "ci_high": 1.6, "baseline_risk": 0.2}
CORR = {"input_kind": "correlation", "es_value": None, "es_se": None, "r_value": 0.3, "n_total": 80}
ES_P = {"input_kind": "es_p", "es_se": None, "es_value": 0.25, "p_value": 0.03}

INVALID = [
    pytest.param(MEANS, {"sd_1": 0.0}, "sd_1", id="sd-zero"),
    pytest.param(MEANS, {"sd_2": -1.5}, "sd_2", id="sd-negative"),
    pytest.param(MEANS, {"n_1": 1}, "n_1", id="n-below-2"),
    pytest.param(COUNTS, {"events_1": 41}, "events_1", id="events-exceed-group"),
    pytest.param(ODDS, {"ci_low": 1.6}, "ci_low", id="ci-excludes-or"),
    pytest.param(ODDS, {"ci_high": 1.4}, "ci_high", id="ci-excludes-or-high"),
    pytest.param(ODDS, {"ratio": 0.0}, "ratio", id="or-zero"),
    pytest.param(RISK, {"ratio": -0.5}, "ratio", id="rr-negative"),
    pytest.param(CORR, {"r_value": 1.0}, "r_value", id="r-one"),
    pytest.param(CORR, {"r_value": -1.2}, "r_value", id="r-below-minus-one"),
    pytest.param(ES_P, {"p_value": 0.0}, "p_value", id="p-zero"),
    pytest.param(ES_P, {"p_value": 1.0}, "p_value", id="p-one"),
    pytest.param(MEANS, {"sd_1": None}, "sd_1", id="missing-required"),
    pytest.param(MEANS, {"r_value": 0.2}, "r_value", id="field-not-used-by-kind"),
]


def snapshot(es: EffectSize) -> dict[str, Any]:
    es = EffectSize.objects.get(pk=es.pk)
    return {**model_to_dict(es), "g": es.g, "var_g": es.var_g, "updated_at": es.updated_at}


@pytest.mark.parametrize(("valid", "bad", "field"), INVALID)
def test_invalid_input_is_rejected_on_its_field_and_changes_nothing(
    valid: dict[str, Any], bad: dict[str, Any], field: str
) -> None:
    user = UserFactory()
    es = EffectSizeFactory()
    grant(user, es.study.evidence_map, "reviewer")
    es = services.effect_size_update(effect_size=es, user=user, data=valid)
    before, history_before = snapshot(es), es.history.count()

    with pytest.raises(ValidationError) as exc:
        services.effect_size_update(effect_size=es, user=user, data=bad)

    errors = exc.value.message_dict
    assert field in errors, errors
    message = " ".join(errors[field])
    assert message and "constraint" not in message.lower()
    assert snapshot(es) == before
    assert es.history.count() == history_before
    assert EffectSize.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (MEANS | {"sd_1": 0.0}, "sd_1", "greater than 0"),
        (COUNTS | {"events_1": 41}, "events_1", "41"),
        (CORR | {"r_value": 1.0}, "r_value", "-1"),
    ],
)
def test_messages_are_plain_language_and_name_the_value(data: dict[str, Any], field: str, words: str) -> None:
    es = EffectSizeFactory()
    with pytest.raises(ValidationError) as exc:
        services.effect_size_update(effect_size=es, user=None, data=data)
    assert words in " ".join(exc.value.message_dict[field])


def test_a_future_year_is_rejected_and_the_study_is_unchanged() -> None:
    study = StudyFactory(year=2016)
    with pytest.raises(ValidationError) as exc:
        services.study_update(study=study, user=None, data={"year": date.today().year + 1})
    assert "future" in " ".join(exc.value.message_dict["year"])
    assert Study.objects.get(pk=study.pk).year == 2016


def test_an_invalid_doi_is_rejected() -> None:
    study = StudyFactory()
    with pytest.raises(ValidationError) as exc:
        services.study_update(study=study, user=None, data={"doi": "not-a-doi"})
    assert "doi" in exc.value.message_dict
    assert Study.objects.get(pk=study.pk).doi == ""


def test_doi_is_normalised_from_a_resolver_url() -> None:
    study = StudyFactory()
    services.study_update(study=study, user=None, data={"doi": " https://doi.org/10.1234/ABC.5 "})
    assert Study.objects.get(pk=study.pk).doi == "10.1234/abc.5"


def test_a_duplicate_doi_in_the_same_map_is_rejected_on_the_doi() -> None:
    first = StudyFactory(doi="10.1234/dup")
    second = StudyFactory(evidence_map=first.evidence_map)
    with pytest.raises(ValidationError) as exc:
        services.study_update(study=second, user=None, data={"doi": "https://doi.org/10.1234/DUP"})
    assert exc.value.message_dict
    assert Study.objects.get(pk=second.pk).doi == ""


def test_the_same_doi_in_another_map_is_allowed() -> None:
    first = StudyFactory(doi="10.1234/shared")
    other = StudyFactory()
    services.study_update(study=other, user=None, data={"doi": "10.1234/shared"})
    assert Study.objects.filter(doi="10.1234/shared").count() == 2
    assert first.evidence_map_id != other.evidence_map_id


def test_an_effect_size_must_use_the_studys_map() -> None:
    es = EffectSizeFactory()
    foreign = EffectSizeFactory()
    with pytest.raises(ValidationError) as exc:
        services.effect_size_update(effect_size=es, user=None, data={"intervention": foreign.intervention})
    assert "intervention" in exc.value.message_dict


def test_saving_computes_g_and_codes_the_study() -> None:
    es = EffectSizeFactory()
    es = services.effect_size_update(effect_size=es, user=None, data=MEANS)
    stored = EffectSize.objects.get(pk=es.pk)
    # d = 1 / sqrt((29*4 + 31*6.25)/60); g = J d with J = exact small-sample factor for 60 df
    assert stored.g == pytest.approx(0.4345904769, rel=1e-9)
    assert stored.ci_low_g < stored.g < stored.ci_high_g
    assert stored.se_g == pytest.approx(stored.var_g**0.5)
    assert es.intervention in es.study.interventions.all()
    assert es.outcome in es.study.outcomes.all()
