"""Files as they come: UTF-8 with or without a byte-order mark is read; another encoding is
refused with where and why, and nothing changes. Hedges' g against EPPI-Reviewer's SMD: every
difference over 1e-6 is listed, with its reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from interchange.eppi.generate import GeneratedFile
from interchange.eppi.outcomes import eppi_smd
from studies.models import Study
from tests.interchange.eppi.conftest import TINY, outcome, reference, run, snapshot, tiny_export

pytestmark = pytest.mark.django_db

Make = Callable[..., GeneratedFile]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_with_or_without_a_byte_order_mark_is_read(generated: Make, encoding: str) -> None:
    made = generated(seed=6)
    data = made.to_bytes(encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    result = run(data)
    assert not result.refused, result.report.errors
    first = made.references[0]
    # The first reference has an author whose name is not ASCII; it arrives intact.
    assert Study.objects.get(external_id=str(first["ItemId"])).authors == "; ".join(
        part.strip() for part in first["Authors"].split(";") if part.strip()
    )


@pytest.mark.parametrize("encoding", ["windows-1252", "latin-1"])
def test_an_8_bit_file_is_refused_with_where_and_why(generated: Make, encoding: str) -> None:
    made = generated(seed=6)
    run(made)
    before = snapshot()
    result = run(made.to_bytes(encoding))
    assert result.refused and result.plan is None
    messages = [p.message for p in result.report.errors]
    # Each place is named (in the code sets, a curly quote of a description comes first).
    assert re.fullmatch(r"text that is not UTF-8: byte 0x[0-9A-F]{2} at line \d+, column \d+, near AttributeId \d+", messages[0])
    assert "it looks like Windows-1252" in messages[-1] and "iconv" in messages[-1]
    assert snapshot() == before


def test_text_that_is_not_utf8_is_placed_in_its_reference() -> None:
    text = json.dumps(tiny_export(references=[reference(5001), reference(5002, Authors="Pérez J ; ")]), ensure_ascii=False)
    result = run(text.encode("latin-1"), selection=TINY)
    assert [p.message.split(" at ")[0] for p in result.report.errors][:1] == ["text that is not UTF-8: byte 0xE9"]
    assert result.report.errors[0].message.endswith("near ItemId 5002")
    assert not Study.objects.exists()


def test_a_utf16_file_is_refused_by_name(generated: Make) -> None:
    result = run(generated(references=3, outcomes=2).to_bytes("utf-16"))
    assert [p.message.split(";")[0] for p in result.report.errors] == [
        "the file is UTF-16 (it starts with a UTF-16 byte-order mark)"
    ]


def test_broken_json_is_refused_with_line_and_column() -> None:
    result = run(b'{"CodeSets": [], "References": [\n  {"ItemId": 1,}\n]}')
    assert [str(p) for p in result.report.errors] == ["the file: Expecting property name enclosed in double quotes at line 2, column 16"]


# --- the SMD report ---------------------------------------------------------------------------


def _smd_file(*outcomes: dict[str, object]) -> dict[str, object]:
    return tiny_export(references=[reference(outcomes=list(outcomes))])


def _data(*values: float) -> dict[int, float]:
    return dict(enumerate(values, start=1))


def test_an_smd_that_agrees_to_1e6_is_counted_and_not_listed() -> None:
    values = _data(1000, 1000, 10.5, 10.0, 2.0, 2.0)  # large groups: both corrections agree to 1e-9
    smd = eppi_smd(1, list(values.values()) + [0.0] * 8)
    result = run(_smd_file(outcome(1, 1, values, SMD=smd)), selection=TINY)
    assert result.report.compared["SMD"] == 1 and result.report.differing["SMD"] == 0
    assert not [p for p in result.report.problems if p.kind == "smd_disagreement"]


def test_every_disagreement_is_listed_with_its_reason() -> None:
    small = _data(10, 12, 5.0, 4.0, 2.0, 2.5)
    unequal_se = _data(30, 50, 5.0, 4.0, 0.4, 0.3)
    t_only = _data(20, 25, 2.0, 0)
    outcomes = [
        outcome(1, 1, small, SMD=eppi_smd(1, list(small.values()) + [0.0] * 8)),
        outcome(2, 3, unequal_se, SMD=eppi_smd(3, list(unequal_se.values()) + [0.0] * 8)),
        outcome(3, 5, t_only, SMD=eppi_smd(5, list(t_only.values()) + [0.0] * 10)),
        outcome(4, 1, small, SMD=0.9),  # not what EPPI-Reviewer computes from these numbers
        outcome(5, 0, _data(0.3, 0.1), SMD=0.3),  # a manual SMD is ours exactly
    ]
    result = run(_smd_file(*outcomes), selection=TINY)
    assert result.report.compared["SMD"] == 5 and result.report.differing["SMD"] == 4
    listed = {p.record: p for p in result.report.problems if p.kind == "smd_disagreement"}
    assert set(listed) == {f"ItemId 5001, outcome {i}" for i in (1, 2, 3, 4)}
    assert "approximation 1 − 3/(4N − 9)" in listed["ItemId 5001, outcome 1"].message
    assert "group 2's SD with group 1's size" in listed["ItemId 5001, outcome 2"].message
    assert "without the small-sample correction" in listed["ItemId 5001, outcome 3"].message
    mismatch = listed["ItemId 5001, outcome 4"]
    assert mismatch.severity == "warning" and "does not follow from the outcome's own numbers" in mismatch.message
    assert all(listed[f"ItemId 5001, outcome {i}"].severity == "note" for i in (1, 2, 3))
    assert "1e-6 agree" not in "\n".join(result.report.lines())
    assert "SMD compared with the source's for 5 effect sizes: 1 agree to 1e-6, 4 differ." in list(result.report.lines())


def test_a_2x2_table_is_compared_with_eppis_odds_ratio() -> None:
    table = _data(12, 20, 28, 20)
    result = run(_smd_file(
        outcome(1, 2, table, OddsRatio=12 * 20 / (28 * 20)),
        outcome(2, 2, table, OddsRatio=2.0),
    ), selection=TINY)
    assert result.report.compared["Odds ratio"] == 2 and result.report.differing["Odds ratio"] == 1
    (problem,) = [p for p in result.report.problems if p.kind == "smd_disagreement"]
    assert problem.record == "ItemId 5001, outcome 2" and problem.field == "OddsRatio"
