"""The EPPI-Reviewer export generator: deterministic, the sizes asked for, every outcome type, and
EPPI-Reviewer's own computed values in the places an export has them (no database)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from interchange.eppi.generate import DEFECTS, ENCODINGS, generate_eppi
from interchange.eppi.outcomes import eppi_smd
from interchange.eppi.read import read_file
from interchange.importing.report import Report


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_ones() -> None:
    first = generate_eppi(references=50, outcomes=90, seed=11).to_bytes()
    assert generate_eppi(references=50, outcomes=90, seed=11).to_bytes() == first
    assert generate_eppi(references=50, outcomes=90, seed=12).to_bytes() != first


@pytest.mark.parametrize(("references", "codings", "outcomes"), [(1, 3, 1), (100, 500, 200), (300, 700, 0), (60, 720, 300)])
def test_the_file_has_the_sizes_asked_for(references: int, codings: int, outcomes: int) -> None:
    made = generate_eppi(references=references, codings=codings, outcomes=outcomes, seed=1)
    refs = made.references
    assert len(refs) == references
    assert sum(len(r.get("Codes", [])) for r in refs) == codings
    assert sum(len(r["Outcomes"]) for r in refs) == outcomes
    assert len({r["ItemId"] for r in refs}) == references
    assert all(len({c["AttributeId"] for c in r.get("Codes", [])}) == len(r.get("Codes", [])) for r in refs)
    assert len({o["OutcomeId"] for r in refs for o in r["Outcomes"]}) == outcomes


def test_every_outcome_type_is_there_with_eppis_own_smd() -> None:
    made = generate_eppi(references=200, outcomes=600, seed=2)
    outcomes = [o for r in made.references for o in r["Outcomes"]]
    assert set(Counter(o["OutcomeTypeId"] for o in outcomes)) == set(range(8))
    for o in outcomes:
        data = [o[f"Data{i}"] for i in range(1, 15)]
        if o["OutcomeTypeId"] in (1, 3, 4, 5):
            assert o["SMD"] == eppi_smd(o["OutcomeTypeId"], data)
        # every outcome sits in its reference's coded rows and columns
    for r in made.references:
        coded = {c["AttributeId"] for c in r.get("Codes", [])}
        for o in r["Outcomes"]:
            assert {o["ItemAttributeIdIntervention"], o["ItemAttributeIdOutcome"]} <= coded


def test_a_clean_file_reads_without_a_problem() -> None:
    report = Report()
    eppi = read_file(generate_eppi(references=80, outcomes=160, seed=3).to_bytes(), report)
    assert report.problems == []
    assert len(eppi.references) == 80 and len(eppi.code_sets) == 8


def test_each_defect_is_recorded_where_it_was_put() -> None:
    made = generate_eppi(references=120, outcomes=240, seed=4, defects=list(DEFECTS))
    assert set(made.defects) == set(DEFECTS)
    by_item = {f"ItemId {r['ItemId']}": r for r in made.references}
    assert by_item[made.defects["year-19xx"][0]]["Year"] == "19xx"
    assert "Codes" not in by_item[made.defects["no-codes"][0]]
    # Different defects go to different references where the file allows.
    items = [entry.split(",")[0] for name in DEFECTS for entry in made.defects[name] if name != "unknown-keys"]
    assert len(items) == len(set(items))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_each_encoding_is_written(encoding: str) -> None:
    made = generate_eppi(references=5, outcomes=4, seed=5)
    data = made.to_bytes(encoding)
    if encoding.startswith("utf"):
        assert json.loads(data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)) == made.data
    else:
        data.decode(encoding)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="codings must be between"):
        generate_eppi(references=2, codings=30, outcomes=0)
    with pytest.raises(ValueError, match="references must be at least 1"):
        generate_eppi(references=0, outcomes=0)
