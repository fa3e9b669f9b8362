"""Helpers for the EPPI-Reviewer import tests: small generated exports, hand-written ones, and a
snapshot of everything an import can write (rows, links, history, versions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.eppi.convert import Selection
from interchange.eppi.generate import GeneratedFile, generate_eppi
from interchange.eppi.pipeline import import_eppi
from interchange.importing.run import ImportResult
from studies.models import EffectSize, Study

SLUG = "eppi-test"
SELECTION = Selection(
    rows=("1001",), columns=("1002",), designs="1003", countries="1004", segments="1003", filters=("1005", "1006"),
)


def snapshot() -> dict[str, Any]:
    """Every row an import writes, with its values, and every history row and map version."""
    models = (Study, EffectSize, Code, CodeSet, Intervention, Outcome, EvidenceMap)
    state: dict[str, Any] = {}
    for model in models:
        state[model.__name__] = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k not in ("updated_at",)))
            for row in model._default_manager.values()
        )
        state[f"history of {model.__name__}"] = model.history.count()  # type: ignore[attr-defined]
    for kind in ("codes", "interventions", "outcomes"):
        through = getattr(Study, kind).through
        state[f"links {kind}"] = sorted(through.objects.values_list(*[f.attname for f in through._meta.fields][1:]))
        state[f"history of links {kind}"] = getattr(Study.history.model, kind).model.objects.count()
    return state


def run(data: bytes | dict[str, Any] | GeneratedFile, *, selection: Selection = SELECTION, slug: str = SLUG,
        create: bool = True, user: Any = None, dry_run: bool = False) -> ImportResult:
    if isinstance(data, GeneratedFile):
        data = data.to_bytes()
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    title = "EPPI test map" if create and not EvidenceMap.objects.filter(slug=slug).exists() else None
    return import_eppi(data, selection, slug=slug, user=user, title=title, dry_run=dry_run, source_name="test.json")


@pytest.fixture
def generated() -> Callable[..., GeneratedFile]:
    def make(references: int = 40, outcomes: int = 80, **kwargs: Any) -> GeneratedFile:
        return generate_eppi(references=references, outcomes=outcomes, **kwargs)

    return make


def kinds(result: ImportResult) -> dict[str, list[str]]:
    """The report's problems as text, by kind."""
    out: dict[str, list[str]] = {}
    for problem in result.report.problems:
        out.setdefault(problem.kind, []).append(str(problem))
    return out


# A hand-written export: two levels of rows, one of columns, a design set; one reference per test.
def tiny_export(*, references: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "CodeSets": [
            {"SetName": "Interventions", "SetId": 10, "Attributes": {"AttributesList": [
                {"AttributeId": 101, "AttributeName": "Cash transfers", "Attributes": {"AttributesList": [
                    {"AttributeId": 1011, "AttributeName": "Conditional"},
                    {"AttributeId": 1012, "AttributeName": "Unconditional"},
                ]}},
                {"AttributeId": 102, "AttributeName": "Training"},
            ]}},
            {"SetName": "Outcomes", "SetId": 20, "Attributes": {"AttributesList": [
                {"AttributeId": 201, "AttributeName": "Schooling"}, {"AttributeId": 202, "AttributeName": "Health"},
            ]}},
            {"SetName": "Study design", "SetId": 30, "Attributes": {"AttributesList": [
                {"AttributeId": 301, "AttributeName": "Randomised controlled trial"},
                {"AttributeId": 302, "AttributeName": "Case study"},
            ]}},
        ],
        "References": references,
    }


TINY = Selection(rows=("10",), columns=("20",), designs="30")


def reference(item_id: int = 5001, *, outcomes: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "ItemId": item_id, "Title": f"Study {item_id}", "ShortTitle": f"Smith ({2014})", "Year": "2014",
        "Authors": "Smith A ; Jones B ; ", "ParentTitle": "Journal of Tests", "Abstract": "An abstract.",
        "DOI": "", "ItemStatus": "I",
        "Codes": [{"AttributeId": 1011}, {"AttributeId": 201}, {"AttributeId": 301}],
        "Outcomes": outcomes or [],
    }
    ref.update(fields)
    return ref


def outcome(outcome_id: int, type_id: int, data: dict[int, float], **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "OutcomeId": outcome_id, "OutcomeTypeId": type_id, "ItemAttributeIdIntervention": 1011,
        "ItemAttributeIdOutcome": 201, "Title": f"Outcome {outcome_id}",
        **{f"Data{i}": float(data.get(i, 0.0)) for i in range(1, 15)},
    }
    out.update(fields)
    return out
