"""The input-kind registry (studies/effect_sizes/registry.py) holds together on its own.

Every kind has a worked example here, so adding a kind without one fails; the example
runs through `compute_effect` and must reach the family function that the kind is named
after.  The hand-worked numbers of each conversion are in test_effect_sizes.py; the
agreement of the registry with the Django model, the admin and the API is checked in
tests/studies/test_registry_agreement.py.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from studies import effect_sizes as es
from studies.effect_sizes import ConversionError, Estimate, compute_effect, registry
from studies.effect_sizes.common import Inputs
from studies.effect_sizes.registry import (
    INPUT_FIELD_SPECS,
    INPUT_FIELDS,
    INPUT_KIND_SPECS,
    INTEGER_INPUTS,
    InputField,
    InputKindSpec,
)

PACKAGE = Path(es.__file__).parent


@dataclass(frozen=True)
class Example:
    """Values for every field a kind reads, and its native estimate by the family function."""

    values: dict[str, float]
    native_metric: str
    native: Callable[[dict[str, float]], Estimate]


def _smd(result: es.SmdResult) -> Estimate:
    return Estimate(result.g, result.vg)


EXAMPLES: dict[str, Example] = {
    "means": Example(
        {"mean_1": 10.0, "sd_1": 2.0, "n_1": 10, "mean_2": 9.0, "sd_2": 2.5, "n_2": 12},
        "SMD",
        lambda v: _smd(es.smd_from_means(v["mean_1"], v["sd_1"], v["n_1"], v["mean_2"], v["sd_2"], v["n_2"])),
    ),
    "counts_2x2": Example(
        {"events_1": 5, "n_1": 10, "events_2": 3, "n_2": 12},
        "logOR",
        lambda v: es.log_odds_ratio(v["events_1"], v["n_1"], v["events_2"], v["n_2"]),
    ),
    "odds_ratio_ci": Example(
        {"ratio": 1.2, "ci_low": 0.9, "ci_high": 1.6, "ci_level": 90.0, "n_1": 40, "n_2": 42},
        "logOR",
        lambda v: es.ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=v["ci_level"]),
    ),
    "risk_ratio_ci": Example(
        {"ratio": 1.3, "ci_low": 1.05, "ci_high": 1.6, "baseline_risk": 0.2, "ci_level": 99.0,
         "n_1": 50, "n_2": 48},
        "logRR",
        lambda v: es.ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=v["ci_level"]),
    ),
    "t_stat": Example(
        {"t_value": 2.1, "n_1": 20, "n_2": 22},
        "SMD",
        lambda v: _smd(es.smd_from_t(v["t_value"], v["n_1"], v["n_2"])),
    ),
    "f_stat": Example(
        {"f_value": 4.41, "n_1": 20, "n_2": 22, "direction": -1},
        "SMD",
        lambda v: _smd(es.smd_from_f(v["f_value"], v["n_1"], v["n_2"], v["direction"])),
    ),
    "correlation": Example(
        {"r_value": 0.3, "n_total": 80},
        "ZCOR",
        lambda v: es.fisher_z(v["r_value"], v["n_total"]),
    ),
    "es_se": Example(
        {"es_value": 0.25, "es_se": 0.1},
        "SMD",
        lambda v: Estimate(v["es_value"], v["es_se"] ** 2),
    ),
    "es_ci": Example(
        {"es_value": 0.25, "ci_low": 0.05, "ci_high": 0.45, "ci_level": 90.0},
        "SMD",
        lambda v: es.estimate_from_ci(v["es_value"], v["ci_low"], v["ci_high"], level=v["ci_level"]),
    ),
    "es_p": Example(
        {"es_value": 0.25, "p_value": 0.03},
        "SMD",
        lambda v: Estimate(v["es_value"], es.se_from_p(v["es_value"], v["p_value"]) ** 2),
    ),
}

KINDS = list(INPUT_KIND_SPECS)


def test_every_kind_has_a_worked_example_of_every_field_it_reads() -> None:
    assert list(EXAMPLES) == KINDS
    for name, spec in INPUT_KIND_SPECS.items():
        assert set(EXAMPLES[name].values) == set(spec.accepted), name


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_reaches_its_own_conversion(kind: str) -> None:
    example = EXAMPLES[kind]
    result = compute_effect(kind, example.values)
    expected = example.native(example.values)
    assert result.native_metric == example.native_metric
    assert result.native_metric in es.NATIVE_METRICS
    assert math.isclose(result.native_yi, expected.yi, rel_tol=1e-12)
    assert math.isclose(result.native_vi, expected.vi, rel_tol=1e-12)
    assert math.isfinite(result.g) and result.vg > 0
    assert result.note


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_reads_only_the_fields_it_declares(kind: str) -> None:
    """Values in every other box, even absurd ones, change nothing."""
    example = EXAMPLES[kind]
    others = {name: math.nan for name in INPUT_FIELDS if name not in example.values}
    assert compute_effect(kind, {**example.values, **others}) == compute_effect(kind, example.values)


@pytest.mark.parametrize("kind", KINDS)
def test_optional_fields_can_all_be_left_empty(kind: str) -> None:
    spec = INPUT_KIND_SPECS[kind]
    required_only = {k: v for k, v in EXAMPLES[kind].values.items() if k in spec.required}
    compute_effect(kind, {**required_only, **dict.fromkeys(spec.optional)})


@pytest.mark.parametrize(
    ("kind", "field"),
    [(spec.name, field) for spec in INPUT_KIND_SPECS.values() for field in spec.required],
)
def test_a_missing_required_field_is_named_with_the_kind_in_words(kind: str, field: str) -> None:
    spec = INPUT_KIND_SPECS[kind]
    values = {**EXAMPLES[kind].values, field: None}
    with pytest.raises(ConversionError) as caught:
        compute_effect(kind, values)
    assert caught.value.field == field
    assert caught.value.message == spec.missing_help.get(field, (
        f"{field} is missing: it is needed to compute an effect size from {spec.words}"
    ))


def test_derived_tables_follow_the_declarations() -> None:
    specs = list(INPUT_KIND_SPECS.values())
    assert {s.name: s.required for s in specs} == es.INPUT_KINDS
    assert {s.name: s.optional for s in specs} == es.OPTIONAL_INPUTS
    assert list(es.INPUT_KINDS) == KINDS
    assert es.INPUT_KINDS is registry.INPUT_KINDS
    assert es.compute_effect is registry.compute_effect
    assert tuple(INPUT_FIELD_SPECS) == INPUT_FIELDS
    assert {"n_1", "n_2", "events_1", "events_2", "n_total", "direction"} == INTEGER_INPUTS
    for spec in specs:
        assert registry.accepted_fields(spec.name) == spec.required + spec.optional
    assert registry.accepted_fields("median_iqr") == ()


def test_names_fit_the_model_and_members_are_distinct() -> None:
    specs = list(INPUT_KIND_SPECS.values())
    assert all(len(s.name) <= 16 for s in specs)  # EffectSize.input_kind max_length
    assert len({s.member for s in specs}) == len(specs)
    assert len({s.label for s in specs}) == len(specs)


# --- the registry refuses declarations that do not fit together ---


def _convert(inputs: Inputs) -> es.EffectEstimate:
    return es.EffectEstimate(0.0, 1.0, "SMD", 0.0, 1.0)


def _spec(**changes: object) -> InputKindSpec:
    base = InputKindSpec(
        name="median_iqr", member="MEDIAN_IQR", label="Medians", words="medians",
        required=("es_value",), converter=_convert,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Median"}, "lower-case"),
        ({"member": "median"}, "upper-case identifier"),
        ({"label": " "}, "cannot be empty"),
        ({"required": ()}, "at least one required field"),
        ({"optional": ("es_value",)}, "listed twice"),
        ({"missing_help": {"p_value": "..."}}, "not required"),
    ],
)
def test_a_malformed_kind_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


def test_kinds_and_fields_must_fit_together() -> None:
    fields = tuple(INPUT_FIELD_SPECS.values())
    kinds = tuple(INPUT_KIND_SPECS.values())
    registry._checked(fields, kinds)  # the real declarations pass
    with pytest.raises(ValueError, match="undeclared fields"):
        registry._checked(fields, (*kinds, _spec(required=("median_1",))))
    with pytest.raises(ValueError, match="read by no input kind"):
        registry._checked((*fields, InputField("median_1")), kinds)
    with pytest.raises(ValueError, match="input field 'n_1' is declared twice"):
        registry._checked((*fields, InputField("n_1", integer=True)), kinds)
    with pytest.raises(ValueError, match="input kind 'means' is declared twice"):
        registry._checked(fields, (*kinds, _spec(name="means")))
    with pytest.raises(ValueError, match="member 'MEANS' is declared twice"):
        registry._checked(fields, (*kinds, _spec(member="MEANS")))


def test_a_converter_cannot_read_an_undeclared_field() -> None:
    inputs = Inputs({"es_value": 0.2}, {"es_value": 0.2, "ci_level": 90.0, "p_value": 0.1}, ("ci_level",))
    assert inputs["es_value"] == 0.2
    assert inputs.optional("ci_level") == 90.0
    with pytest.raises(KeyError, match="required"):
        inputs["p_value"]
    with pytest.raises(KeyError, match="optional"):
        inputs.optional("p_value")


# --- the package stays pure and documented ---


def test_the_package_imports_nothing_of_django_or_the_project() -> None:
    code = (
        "import sys, studies.effect_sizes\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'evidence', 'config'} or m == 'studies.models')\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=PACKAGE.parents[1],
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_every_module_opens_with_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), path.name
    assert not any(
        (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "django" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "django")
        for node in ast.walk(tree)
    ), path.name
