"""Leave-one-study-out and the within-study correlation: against metafor's leave1out where each
study has one effect size, and against refitting without each study where studies have several."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.stats.clustered import pool_clustered
from evidence.stats.results import StatsError
from evidence.stats.sensitivity import leave_one_cluster_out, pool_by_correlation

from .reference import assert_all_close, inputs, load


@pytest.mark.parametrize("name", ["bcg", "hackshaw1998"])
def test_one_effect_size_per_study_is_metafors_leave1out(name: str) -> None:
    yi, vi = inputs(name)
    ref = load(name)["leave1out"]["REML"]
    # Labels whose sorted order is the input order: the result follows sorted labels.
    result = leave_one_cluster_out(yi, vi, [f"s{n:03d}" for n in range(len(yi))], method="REML", test="z")
    assert result.clusters == [f"s{n:03d}" for n in range(len(yi))]
    assert set(result.model) == {"univariate"} and result.k.tolist() == [len(yi) - 1] * len(yi)
    for attribute, key in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci.lb"), ("ci_high", "ci.ub"),
                           ("p_value", "pval"), ("tau2", "tau2"), ("i2", "I2")):
        assert_all_close(getattr(result, attribute), ref[key], f"{name} leave1out by study {key}")


def test_several_effect_sizes_per_study_leave_together() -> None:
    rng = np.random.default_rng(8)
    sizes = [1, 3, 2, 4, 1, 2, 3, 2]
    cluster = np.repeat(np.arange(10, 10 + len(sizes)), sizes)
    vi = rng.uniform(0.01, 0.08, cluster.size)
    yi = rng.normal(0.2, 0.25, cluster.size)
    result = leave_one_cluster_out(yi, vi, cluster, rho=0.6, method="REML", test="z")
    assert result.clusters == list(range(10, 10 + len(sizes)))
    for j, label in enumerate(result.clusters):
        rest = cluster != label
        fit = pool_clustered(yi[rest], vi[rest], cluster[rest], rho=0.6)
        assert result.k[j] == rest.sum() and result.model[j] == fit.model == "CHE"
        assert result.estimate[j] == pytest.approx(fit.estimate, rel=1e-10)
        assert result.ci_low[j] == pytest.approx(fit.ci_low, rel=1e-10)
        assert result.tau2[j] == pytest.approx(fit.tau2, rel=1e-8, abs=1e-12)


def test_a_refit_that_cannot_be_made_is_nan_with_its_reason() -> None:
    # Two studies, one of them with two effect sizes: without the single one, one study is left.
    result = leave_one_cluster_out([0.1, 0.3, 0.5], [0.02, 0.03, 0.04], ["a", "a", "b"])
    assert result.estimate[0] == pytest.approx(0.5) and np.isnan(result.estimate[1])
    assert "single cluster" in result.errors["b"] and result.model == ["univariate", ""]
    with pytest.raises(StatsError, match="at least 2 studies"):
        leave_one_cluster_out([0.1, 0.3], [0.02, 0.03], ["a", "a"])
    with pytest.raises(StatsError, match="yi has 2 entries"):
        leave_one_cluster_out([0.1, 0.3], [0.02], ["a", "b"])


def test_pool_by_correlation_is_the_fit_at_each_rho() -> None:
    yi, vi = inputs("bcg")
    cluster = [n // 2 for n in range(len(yi))]
    found = pool_by_correlation(yi, vi, cluster, (0.2, 0.5, 0.8))
    assert list(found) == [0.2, 0.5, 0.8]
    for rho, fit in found.items():
        assert not isinstance(fit, str) and fit.rho == rho
        assert fit.estimate == pool_clustered(yi, vi, cluster, rho=rho).estimate
    assert isinstance(pool_by_correlation([0.1, 0.2], [0.01, 0.02], ["a", "a"], (0.5,))[0.5], str)
