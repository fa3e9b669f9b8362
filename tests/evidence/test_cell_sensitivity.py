"""A cell's sensitivity analyses run on what the cell pooled: with one effect size per study they
are metafor's leave1out and trimfill (REML, L0) on the reference datasets."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.models import EvidenceMap
from evidence.stats.clustered import pool_clustered
from evidence.synthesis.cells import Cell
from evidence.synthesis.sensitivity import cell_sensitivity
from tests.evidence.stats.reference import assert_all_close, assert_close, inputs, load


@pytest.mark.parametrize("name", ["bcg", "hackshaw1998"])
def test_a_cell_of_a_reference_dataset_matches_metafor(name: str) -> None:
    yi, vi = inputs(name)
    evidence_map = EvidenceMap(pooling_method="REML", pooling_test="z", within_study_correlation=0.8)
    clusters = np.arange(1, len(yi) + 1, dtype=np.int64)
    result = pool_clustered(yi, vi, clusters)
    cell = Cell(1, 2, clusters, clusters, {}, "", result=result, yi=np.asarray(yi), vi=np.asarray(vi),
                clusters=clusters)
    found = cell_sensitivity(evidence_map, cell)
    assert found is not None and found.leave_one_out is not None and found.trim_and_fill is not None
    loo = load(name)["leave1out"]["REML"]
    for attribute, key in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci.lb"), ("ci_high", "ci.ub"),
                           ("tau2", "tau2"), ("i2", "I2")):
        assert_all_close(getattr(found.leave_one_out, attribute), loo[key], f"{name} leave1out {key}")
    filled = load(name)["pubbias"]["trimfill"]["REML|L0"]
    assert found.trim_and_fill.k0 == filled["k0"] and found.trim_and_fill.side == filled["side"]
    for attribute, key in (("estimate", "b"), ("se", "se"), ("ci_low", "ci.lb"), ("ci_high", "ci.ub"),
                           ("tau2", "tau2")):
        assert_close(getattr(found.trim_and_fill.pooled, attribute), filled[key], f"{name} trimfill {key}")
    assert found.correlations == {} and "one effect size" in found.correlations_reason
