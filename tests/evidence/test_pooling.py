"""pool_rows: Egger's p of every cell with enough effect sizes, batched, as the per-cell test gives it."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.models import EvidenceMap
from evidence.stats.pubbias import egger_test
from evidence.stats.results import StatsError
from evidence.synthesis import map_evidence
from evidence.synthesis.membership import EffectRows
from evidence.synthesis.pooling import pool_rows
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)


def per_cell_egger_p(rows: EffectRows, min_k: int) -> dict[int, float]:
    """What pool_rows computed before the batched test: egger_test cell by cell."""
    codes, yi, vi = np.asarray(rows.codes), np.asarray(rows.yi), np.asarray(rows.vi)
    expected: dict[int, float] = {}
    for code in np.flatnonzero(np.bincount(codes) >= min_k).tolist():
        mask = codes == code
        try:
            expected[code] = egger_test(yi[mask], vi[mask]).p_value
        except StatsError:
            continue
    return expected


def effect_rows(codes: list[int], clusters: list[int], yi: list[float], vi: list[float]) -> EffectRows:
    return EffectRows(
        codes=np.asarray(codes, dtype=np.int64), clusters=np.asarray(clusters, dtype=np.int64),
        yi=np.asarray(yi, dtype=float), vi=np.asarray(vi, dtype=float), ids=np.arange(len(codes), dtype=np.int64),
        outcomes=np.zeros(len(codes), dtype=np.int64), reversed=np.zeros(len(codes), dtype=bool),
    )


def test_egger_p_of_every_eligible_cell_equals_the_per_cell_test() -> None:
    rng = np.random.default_rng(42)
    codes: list[int] = []
    clusters: list[int] = []
    yi: list[float] = []
    vi: list[float] = []
    sizes = [1, 2, 3, 5, 9, 10, 11, 25, 60, 300, 12]
    for code, k in enumerate(sizes):
        v = rng.uniform(0.005, 0.2, k)
        if code == len(sizes) - 1:
            v[:] = 0.04  # equal variances: no predictor, no p-value
        codes += [code] * k
        clusters += rng.integers(0, max(1, k // 2), k).tolist()
        yi += rng.normal(0.2 + np.sqrt(v), np.sqrt(v + 0.02)).tolist()
        vi += v.tolist()
    order = rng.permutation(len(codes))  # cells interleaved: pool_rows sorts them itself
    rows = effect_rows(*(np.asarray(column)[order].tolist() for column in (codes, clusters, yi, vi)))
    for min_k in (3, 10):
        evidence_map = EvidenceMap(egger_min_k=min_k)
        got = pool_rows(evidence_map, rows).egger_p
        expected = per_cell_egger_p(rows, min_k)
        assert list(got) == list(expected)
        assert len(sizes) - 1 not in got
        for code, p in expected.items():
            assert got[code] == pytest.approx(p, rel=1e-8, abs=1e-12)


def test_no_cell_large_enough_and_no_rows() -> None:
    rows = effect_rows([0, 0, 1], [1, 2, 3], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03])
    assert pool_rows(EvidenceMap(egger_min_k=10), rows).egger_p == {}
    assert pool_rows(EvidenceMap(), EffectRows.empty()).egger_p == {}


@pytest.mark.django_db
def test_the_cell_of_a_map_carries_the_egger_p() -> None:
    evidence_map = EvidenceMapFactory(egger_min_k=10)
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    values = [(0.05 + 0.04 * i, 0.05 + 0.02 * i) for i in range(12)]
    for g, se in values:
        EffectSizeFactory(
            study=StudyFactory(evidence_map=evidence_map), intervention=row, outcome=col, es_value=g, es_se=se
        )
    cell = map_evidence(evidence_map).cell(row.pk, col.pk)
    expected = egger_test([g for g, _ in values], [se**2 for _, se in values]).p_value
    assert cell.egger_p == pytest.approx(expected, rel=1e-8)
