"""A map exported as EPPI-Reviewer JSON and imported into an empty map is the same map: studies,
codings, framework, effect sizes, cells and pooled numbers (to 1e-9)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

from evidence.models import Code, EvidenceMap, Intervention, Outcome
from evidence.synthesis import map_evidence
from interchange.demo import load_demo
from interchange.eppi.export import export_map
from interchange.eppi.pipeline import import_eppi
from interchange.generate import generate_map
from studies.models import EffectSize, Study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STUDY_FIELDS = (
    "title",
    "short_title",
    "authors",
    "year",
    "source",
    "volume",
    "issue",
    "pages",
    "doi",
    "url",
    "abstract",
    "keywords",
    "design",
    "is_global",
    "status",
)


def paths(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap) -> dict[int, str]:
    """Each framework node as the path of names from its root."""
    nodes = {n.pk: n for n in model._default_manager.filter(evidence_map=evidence_map)}

    def path(pk: int) -> str:
        node = nodes[pk]
        return node.name if node.parent_id is None else f"{path(node.parent_id)} › {node.name}"

    return {pk: path(pk) for pk in nodes}


def code_paths(evidence_map: EvidenceMap, code_sets: set[str]) -> dict[int, str]:
    codes = {
        c.pk: c
        for c in Code.objects.filter(code_set__evidence_map=evidence_map).select_related("code_set")
    }

    def path(pk: int) -> str:
        code = codes[pk]
        return (
            f"{code.code_set.name}: {code.name}"
            if code.parent_id is None
            else f"{path(code.parent_id)} › {code.name}"
        )

    return {pk: path(pk) for pk, c in codes.items() if c.code_set.name in code_sets}


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (
            a == b
            or (math.isnan(a) and math.isnan(b))
            or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
        )
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-9))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two snapshots differ, for the failure's message."""
    if isinstance(a, dict):
        return [d for k in a for d in differences(a[k], b.get(k), f"{where}.{k}")]
    if isinstance(a, list | tuple) and not isinstance(a, str):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=False))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    return [] if close(a, b) else [f"{where}: {a!r} != {b!r}"]


def snapshot(evidence_map: EvidenceMap, code_sets: set[str]) -> dict[str, Any]:
    """The map in names, not ids: what must survive the round trip."""
    rows, columns = paths(Intervention, evidence_map), paths(Outcome, evidence_map)
    codes = code_paths(evidence_map, code_sets)
    studies = list(
        Study.objects.filter(evidence_map=evidence_map).prefetch_related(
            "codes", "interventions", "outcomes"
        )
    )
    name = {s.pk: f"{s.title} ({s.year})" for s in studies}
    assert len(set(name.values())) == len(studies)
    study_rows = {
        name[s.pk]: (
            tuple(getattr(s, f) for f in STUDY_FIELDS),
            sorted(str(c) for c in s.countries),
            sorted(codes[c.pk] for c in s.codes.all() if c.pk in codes),
            sorted(rows[i.pk] for i in s.interventions.all()),
            sorted(columns[o.pk] for o in s.outcomes.all()),
        )
        for s in studies
    }
    effects = sorted(
        (name[e.study_id], e.label, rows[e.intervention_id], columns[e.outcome_id], e.g, e.var_g)
        for e in EffectSize.objects.filter(study__evidence_map=evidence_map)
    )
    evidence = map_evidence(evidence_map)
    cells = {}
    for key, cell in evidence.cells.items():
        result = None if cell.result is None else dataclasses.asdict(cell.result)
        if result is not None:
            result["weights"] = np.sort(
                result["weights"]
            )  # in the order of effect ids, which are new
        cells[(rows[key[0]], columns[key[1]])] = (
            sorted(name[s] for s in cell.study_ids),
            cell.n_effects,
            cell.designs,
            cell.region,
            result,
            cell.label,
            cell.egger_p,
            cell.not_pooled_reason,
        )
    return {
        "rows": sorted(rows.values()),
        "columns": sorted(columns.values()),
        "codes": sorted(codes.values()),
        "studies": study_rows,
        "effects": effects,
        "cells": cells,
    }


def round_trip(evidence_map: EvidenceMap) -> tuple[EvidenceMap, dict[str, Any]]:
    export = export_map(evidence_map, None)
    data = json.dumps(export.data, ensure_ascii=False).encode("utf-8")
    result = import_eppi(
        data, export.selection, slug="copy", user=None, title="Copy", source_name="export.json"
    )
    assert result.written, result.report.errors
    copy = EvidenceMap.objects.get(slug="copy")
    for name in (
        "pooling_method",
        "pooling_test",
        "within_study_correlation",
        "effect_label_preset",
        "min_studies_for_confidence",
        "egger_alpha",
        "egger_min_k",
    ):
        setattr(
            copy, name, getattr(evidence_map, name)
        )  # the map's settings are not part of the file
    copy.save()
    # Nor is which way a column's outcome is better (EPPI-Reviewer's codes have no direction).
    direction = {
        path: o.desirable_direction
        for o in Outcome.objects.filter(evidence_map=evidence_map)
        for pk, path in paths(Outcome, evidence_map).items()
        if pk == o.pk
    }
    for pk, path in paths(Outcome, copy).items():
        Outcome.objects.filter(pk=pk).update(desirable_direction=direction[path])
    return copy, export.data


def assert_same(evidence_map: EvidenceMap, copy: EvidenceMap) -> None:
    code_sets = set(evidence_map.code_sets.values_list("name", flat=True))
    before, after = snapshot(evidence_map, code_sets), snapshot(copy, code_sets)
    for part in ("rows", "columns", "codes", "studies"):
        assert after[part] == before[part], part
    assert close(after["effects"], before["effects"])
    assert after["cells"].keys() == before["cells"].keys()
    for key, cell in before["cells"].items():
        assert close(after["cells"][key], cell), (key, differences(cell, after["cells"][key]))


def test_the_demo_map_comes_back_the_same() -> None:
    demo = load_demo()
    Study.objects.filter(evidence_map=demo).exclude(
        status="published"
    ).delete()  # a reader's export
    copy, data = round_trip(demo)
    assert_same(demo, copy)
    assert len(data["References"]) == demo.studies.count()


def test_a_generated_map_comes_back_the_same() -> None:
    generated = generate_map(
        "generated", studies=40, effect_sizes=160, rows=(3, 3), columns=(3, 2), seed=4
    )
    drafts = Study.objects.filter(evidence_map=generated).exclude(status="published")
    assert drafts.exists()
    # A member's export has the drafts too, and then imports every study as a draft (a file
    # has no status); a reader's has published studies only, which come back published.
    member = UserFactory(is_superuser=True)
    assert len(export_map(generated, member).data["References"]) == 40
    assert not export_map(generated, member).selection.publish
    drafts.delete()
    copy, _ = round_trip(generated)
    assert_same(generated, copy)
    kinds = set(
        EffectSize.objects.filter(study__evidence_map=generated).values_list(
            "input_kind", flat=True
        )
    )
    assert len(kinds) > 5  # every family of input, including those exported as g and its SE
