"""Clustered pooling against metafor rma.mv, clubSandwich and robumeta (R 4.2.2).

Reference: tests/data/metafor/multilevel_konstantopoulos2011.json (schema in SOURCE.md):
56 effect sizes (schools) in 11 clusters (districts). REML fits are compared with the
`refined` exact roots and clubSandwich's CR2 values computed there; metafor's CR1
`robust()` values were computed at its default-tolerance fit, 1e-8 away, well inside
the 1e-6 relative tolerance. Independent dense (k x k) implementations below check the
per-cluster algebra on data the reference file does not cover.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from evidence.stats.clustered import (
    BlockDiagonal,
    impute_covariance,
    pool_cells_clustered,
    pool_clustered,
)
from evidence.stats.results import ClusteredResult, ConvergenceError, StatsError
from evidence.stats.univariate import pool

DATA = Path(__file__).resolve().parents[2] / "data" / "metafor"
REL, ABS = 1e-6, 1e-9
WORKING = {"3L": "three_level", "CE": "CE_working_model", "CHE": "CHE_working_model"}
REF_RHO = 0.6  # the CE/CHE reference models impute V with r = 0.6


@cache
def reference() -> dict[str, Any]:
    with (DATA / "multilevel_konstantopoulos2011.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inp = reference()["input"]
    return np.array(inp["yi"]), np.array(inp["vi"]), np.array(inp["district"])


def close(actual: float | None, expected: float, what: str, rel: float = REL) -> None:
    assert actual is not None, f"{what}: got None, expected {expected!r}"
    tolerance = max(rel * abs(expected), ABS)
    assert abs(actual - expected) <= tolerance, (
        f"{what}: expected {expected!r}, got {actual!r} (difference {actual - expected:.3g})"
    )


def fit(model: str, **kwargs: Any) -> ClusteredResult:
    y, v, district = data()
    rho = kwargs.pop("rho", REF_RHO)
    return pool_clustered(y, v, district, model=model, rho=rho, **kwargs)


# --------------------------------------------------------------------------------------
# metafor rma.mv, model-based tests
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(WORKING))
@pytest.mark.parametrize("test", ["z", "t"])
def test_model_based_matches_rma_mv(model: str, test: str) -> None:
    ref = reference()[WORKING[model]]["refined" if test == "z" else "refined_t"]
    res = fit(model, vcov="model", test=test)
    close(res.estimate, ref["b"], "b")
    close(res.se, ref["se"], "se")
    close(res.statistic, ref["zval"], "zval")
    close(res.p_value, ref["pval"], "pval")
    close(res.ci_low, ref["ci.lb"], "ci.lb")
    close(res.ci_high, ref["ci.ub"], "ci.ub")
    if test == "z":
        assert res.df is None and res.test == "z"
    else:
        assert res.test == "t"
        close(res.df, ref["dfs"], "dfs")
    close(res.tau2, ref["sigma2"][0], "sigma2 (between clusters)")
    if model == "CE":
        assert res.omega2 is None
    else:
        close(res.omega2, ref["sigma2"][1], "sigma2 (within clusters)")
    close(res.q, ref["QE"], "QE")
    assert res.q_df == ref["QE_df"]
    close(res.q_p, ref["QEp"], "QEp")
    assert res.fit_reml is not None
    close(res.fit_reml.ll, ref["logLik_REML"], "logLik REML")
    assert res.k == ref["k"] == 56
    assert res.n_clusters == ref["s.nlevels"][0] == 11
    assert res.method == "REML" and res.vcov == "model" and res.model == model
    assert res.converged and 0 < res.iterations < 30
    assert res.rho == (None if model == "3L" else REF_RHO)


@pytest.mark.parametrize("model", list(WORKING))
def test_default_tolerance_fits_are_also_within_tolerance(model: str) -> None:
    # metafor's own default fit is ~1e-8 from the exact root: still inside 1e-6, and so
    # are clubSandwich's values computed on it.
    ref = reference()[WORKING[model]]
    for key, test in (("metafor_fit", "z"), ("metafor_fit_t", "t")):
        res = fit(model, vcov="model", test=test)
        got: dict[str, float | None] = {
            "b": res.estimate, "se": res.se, "zval": res.statistic, "pval": res.p_value,
            "ci.lb": res.ci_low, "ci.ub": res.ci_high,
        }  # fmt: skip
        for name, value in got.items():
            close(value, ref[key][name], f"{key} {name}")
        components = [res.tau2, res.omega2]
        for component, want in zip(components, ref[key]["sigma2"], strict=False):
            close(component, want, f"{key} sigma2")
    res = fit(model)
    got = {
        "SE": res.se, "tstat": res.statistic, "df_Satt": res.df, "p_Satt": res.p_value,
        "ci.lb": res.ci_low, "ci.ub": res.ci_high,
    }  # fmt: skip
    for name, value in got.items():
        close(value, ref["clubSandwich_CR2"][name], f"clubSandwich_CR2 {name}")


# --------------------------------------------------------------------------------------
# clubSandwich CR2 + Satterthwaite, metafor robust() CR1
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(WORKING))
def test_cr2_matches_club_sandwich(model: str) -> None:
    ref = reference()[WORKING[model]]["clubSandwich_CR2_refined"]
    res = fit(model)  # vcov="CR2", small=True are the defaults
    assert res.vcov == "CR2" and res.test == "t"
    close(res.estimate, ref["beta"], "beta")
    close(res.se, ref["SE"], "SE")
    close(res.statistic, ref["tstat"], "tstat")
    close(res.df, ref["df_Satt"], "df_Satt")
    close(res.p_value, ref["p_Satt"], "p_Satt")
    close(res.ci_low, ref["ci.lb"], "ci.lb")
    close(res.ci_high, ref["ci.ub"], "ci.ub")


@pytest.mark.parametrize("model", list(WORKING))
def test_small_false_is_metafor_robust_cr1(model: str) -> None:
    ref = reference()[WORKING[model]]["metafor_robust_CR1"]
    res = fit(model, small=False)
    assert res.vcov == "CR1" and res.test == "t"
    close(res.estimate, ref["b"], "b")
    close(res.se, ref["se"], "se")
    close(res.statistic, ref["tval"], "tval")
    close(res.df, ref["dfs"], "dfs")
    close(res.p_value, ref["pval"], "pval")
    close(res.ci_low, ref["ci.lb"], "ci.lb")
    close(res.ci_high, ref["ci.ub"], "ci.ub")


@pytest.mark.parametrize("model", list(WORKING))
@pytest.mark.parametrize("vcov", ["model", "CR2"])
def test_prediction_interval_uses_all_variance_components(model: str, vcov: str) -> None:
    ref = reference()[WORKING[model]]
    if vcov == "model":
        point, crit = ref["refined"], stats.norm.ppf(0.975)
        se = point["se"]
        b = point["b"]
    else:
        cr2 = ref["clubSandwich_CR2_refined"]
        crit = stats.t.ppf(0.975, cr2["df_Satt"])
        se, b = cr2["SE"], cr2["beta"]
    half = crit * math.sqrt(se**2 + sum(ref["refined"]["sigma2"]))
    res = fit(model, vcov=vcov)
    close(res.pi_low, b - half, "pi.lb")
    close(res.pi_high, b + half, "pi.ub")


def test_level_changes_the_intervals_only() -> None:
    ref = reference()["CHE_working_model"]["clubSandwich_CR2_refined"]
    res = fit("CHE", level=0.9)
    assert res.level == 0.9
    crit = stats.t.ppf(0.95, ref["df_Satt"])
    close(res.ci_low, ref["beta"] - crit * ref["SE"], "90% ci.lb")
    close(res.p_value, ref["p_Satt"], "p")


# --------------------------------------------------------------------------------------
# robumeta
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "key"), [("CORR", "CORR|rho=0.8|small"), ("HIER", "HIER|small")])
def test_robumeta(model: str, key: str) -> None:
    ref = reference()["robumeta"][key]
    res = fit(model, rho=0.8)
    close(res.estimate, ref["b"], "b")
    close(res.se, ref["se"], "se")
    close(res.statistic, ref["t"], "t")
    close(res.df, ref["df"], "df")
    close(res.p_value, ref["p"], "p")
    close(res.ci_low, ref["ci.lb"], "ci.lb")
    close(res.ci_high, ref["ci.ub"], "ci.ub")
    close(res.tau2, ref["tau.sq"], "tau.sq")
    assert res.n_clusters == ref["n_studies"] and res.k == ref["n_effects"]
    assert res.method == "MoM" and res.vcov == "CR2" and res.test == "t"
    if model == "CORR":
        close(res.i2, ref["I.2"], "I.2")
        assert res.omega2 is None and res.rho == ref["rho"]
    else:
        close(res.omega2, ref["omega.sq"], "omega.sq")
        assert res.rho is None


def test_robumeta_corr_tau2_terms() -> None:
    # robumeta's tau.sq = term1 + rho * term2, so rho = 0 and rho = 1 expose both terms.
    ref = reference()["robumeta"]["CORR|rho=0.8|small"]
    close(fit("CORR", rho=0.0).tau2, ref["term1"], "term1")
    close(fit("CORR", rho=1.0).tau2 - fit("CORR", rho=0.0).tau2, ref["term2"], "term2")


def test_robumeta_weights_are_robumeta_r_weights() -> None:
    _, v, district = data()
    res = fit("HIER")
    assert res.omega2 is not None
    raw = 1.0 / (v + res.tau2 + res.omega2)
    np.testing.assert_allclose(res.weights, 100 * raw / raw.sum(), rtol=1e-12)
    corr = fit("CORR", rho=0.8)
    k_j = {c: np.sum(district == c) for c in set(district.tolist())}
    vbar = {c: v[district == c].mean() for c in k_j}
    raw = np.array([1 / (k_j[c] * (vbar[c] + corr.tau2)) for c in district])
    np.testing.assert_allclose(corr.weights, 100 * raw / raw.sum(), rtol=1e-12)


def test_robumeta_small_false_is_cr1_with_studies_minus_one_df() -> None:
    y, _, district = data()
    res = fit("CORR", rho=0.8, small=False)
    raw = res.weights / 100
    b = np.sum(raw * y) / raw.sum()
    scores = np.array([np.sum(raw[district == c] * (y - b)[district == c]) for c in set(district)])
    variance = np.sum(scores**2) / raw.sum() ** 2 * 11 / 10
    close(res.estimate, b, "b")
    close(res.se, math.sqrt(variance), "se")
    assert res.df == 10.0 and res.vcov == "CR1"


# --------------------------------------------------------------------------------------
# Independent dense implementations (k x k) of the same formulas
# --------------------------------------------------------------------------------------


def dense_sampling(v: np.ndarray, cluster: np.ndarray, rho: float) -> np.ndarray:
    same = cluster[:, None] == cluster[None, :]
    sd = np.sqrt(v)
    out = np.where(same, rho * np.outer(sd, sd), 0.0)
    np.fill_diagonal(out, v)
    return out


def dense_marginal(
    v: np.ndarray, cluster: np.ndarray, rho: float, tau2: float, omega2: float
) -> np.ndarray:
    same = (cluster[:, None] == cluster[None, :]).astype(float)
    out: np.ndarray = dense_sampling(v, cluster, rho) + tau2 * same + omega2 * np.eye(v.size)
    return out


def dense_reml_ll(y: np.ndarray, marginal: np.ndarray) -> float:
    k = y.size
    w = np.linalg.inv(marginal)
    s = w.sum()
    b = (w @ y).sum() / s
    e = y - b
    logdet = np.linalg.slogdet(marginal)[1]
    return float(
        -0.5 * ((k - 1) * math.log(2 * math.pi) - math.log(k) + logdet + math.log(s) + e @ w @ e)
    )


def dense_cr2(y: np.ndarray, cluster: np.ndarray, phi: np.ndarray) -> tuple[float, float, float]:
    """Estimate, CR2 variance and Satterthwaite df with W = phi⁻¹, written out in full
    (Pustejovsky & Tipton 2018, with clubSandwich's Cholesky square root)."""
    k = y.size
    w = np.linalg.inv(phi)
    s = w.sum()
    b = (w @ y).sum() / s
    e = y - b
    hat = np.ones((k, 1)) @ (np.ones((1, k)) @ w) / s
    residual_maker = np.eye(k) - hat
    g_columns, total = [], 0.0
    for c in np.unique(cluster):
        rows = np.flatnonzero(cluster == c)
        block = phi[np.ix_(rows, rows)]
        upper = np.linalg.cholesky(block).T  # block = upper' upper
        b_mat = upper @ (block - np.ones_like(block) / s) @ upper.T
        values, vectors = np.linalg.eigh(b_mat)
        inv_root = vectors @ np.diag(values**-0.5) @ vectors.T
        adjust = upper.T @ inv_root @ upper
        u = adjust @ w[np.ix_(rows, rows)] @ np.ones(rows.size) / s
        total += float(u @ e[rows]) ** 2
        g_columns.append(residual_maker[rows, :].T @ u)
    g = np.column_stack(g_columns)
    omega = g.T @ phi @ g
    return float(b), total, float(np.trace(omega) ** 2 / np.sum(omega**2))


def random_clustered(
    seed: int, sizes: Sequence[int], *, spread: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    v = rng.uniform(0.005, 0.2, cluster.size)
    y = rng.normal(0.2, spread, len(sizes))[cluster] + rng.normal(0, 0.2, cluster.size)
    y += rng.normal(0, np.sqrt(v))
    return y, v, cluster


@pytest.mark.parametrize("model", ["3L", "CE", "CHE"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reml_maximises_the_dense_restricted_likelihood(model: str, seed: int) -> None:
    y, v, cluster = random_clustered(seed, [1, 3, 2, 5, 1, 4, 2, 7])
    rho = 0.0 if model == "3L" else 0.7
    res = pool_clustered(y, v, cluster, model=model, rho=rho, vcov="model")
    omega2 = res.omega2 if res.omega2 is not None else 0.0
    ours = dense_reml_ll(y, dense_marginal(v, cluster, rho, res.tau2, omega2))
    assert res.fit_reml is not None
    close(res.fit_reml.ll, ours, "REML log-likelihood")

    def negative(theta: np.ndarray) -> float:
        om = theta[1] if model != "CE" else 0.0
        return -dense_reml_ll(y, dense_marginal(v, cluster, rho, theta[0], om))

    best = optimize.minimize(
        negative, x0=np.array([0.05, 0.05]), method="L-BFGS-B", bounds=[(0, None), (0, None)]
    )
    assert ours >= -best.fun - 1e-9, "another point has a higher restricted likelihood"


@pytest.mark.parametrize("model", ["3L", "CE", "CHE"])
def test_i2_weights_and_ml_fit_match_dense_formulas(model: str) -> None:
    y, v, cluster = random_clustered(7, [2, 3, 1, 4, 2, 5])
    rho = 0.0 if model == "3L" else 0.5
    res = pool_clustered(y, v, cluster, model=model, rho=rho, vcov="model")
    omega2 = res.omega2 or 0.0
    vmat = dense_sampling(v, cluster, rho)
    w_v = np.linalg.inv(vmat)
    p = w_v - np.outer(w_v.sum(1), w_v.sum(0)) / w_v.sum()
    total = res.tau2 + omega2
    close(res.i2, 100 * total / (total + (y.size - 1) / np.trace(p)), "I2")
    marginal = dense_marginal(v, cluster, rho, res.tau2, omega2)
    inv = np.linalg.inv(marginal)
    np.testing.assert_allclose(res.weights, 100 * np.diag(inv) / np.trace(inv), rtol=1e-10)
    e = y - res.estimate
    ll_ml = -0.5 * (y.size * math.log(2 * math.pi) + np.linalg.slogdet(marginal)[1] + e @ inv @ e)
    ll_qe = -0.5 * (y.size * math.log(2 * math.pi) + np.linalg.slogdet(vmat)[1])
    parms = 2 if model == "CE" else 3
    assert res.fit_ml is not None and res.fit_reml is not None
    close(res.fit_ml.ll, ll_ml, "ML log-likelihood")
    close(res.fit_ml.dev, -2 * (ll_ml - ll_qe), "ML deviance")
    close(res.fit_ml.aic, -2 * ll_ml + 2 * parms, "AIC")
    close(res.fit_ml.bic, -2 * ll_ml + parms * math.log(y.size), "BIC")
    n_reml = y.size - 1
    aicc = -2 * res.fit_reml.ll + 2 * parms * n_reml / (n_reml - parms - 1)
    close(res.fit_reml.aicc, aicc, "REML AICc")
    close(res.fit_reml.dev, -2 * res.fit_reml.ll, "REML deviance")
    close(res.se, 1 / math.sqrt(inv.sum()), "model-based se")
    close(res.q_p, stats.chi2.sf(res.q, y.size - 1), "QE p")


@pytest.mark.parametrize("model", ["3L", "CE", "CHE", "CORR", "HIER"])
@pytest.mark.parametrize("sizes", [[1, 3, 2, 5, 1, 4], [2, 2], [6, 1, 1, 1]])
def test_cr2_matches_dense_pustejovsky_tipton(model: str, sizes: list[int]) -> None:
    y, v, cluster = random_clustered(11, sizes)
    rho = 0.0 if model in ("3L", "HIER") else 0.6
    res = pool_clustered(y, v, cluster, model=model, rho=rho)
    if model in ("CORR", "HIER"):
        phi = np.diag(100.0 / res.weights)  # the scale of Phi cancels out of CR2
    else:
        phi = dense_marginal(v, cluster, rho, res.tau2, res.omega2 or 0.0)
    b, variance, df = dense_cr2(y, cluster, phi)
    close(res.estimate, b, "estimate", rel=1e-9)
    close(res.se, math.sqrt(variance), "CR2 se", rel=1e-8)
    close(res.df, df, "Satterthwaite df", rel=1e-8)


# --------------------------------------------------------------------------------------
# Boundaries and degenerate input
# --------------------------------------------------------------------------------------


def test_homogeneous_clusters_put_both_components_on_the_boundary() -> None:
    v = np.full(12, 0.04)
    cluster = np.repeat([1, 2, 3, 4], 3)
    y = np.array([0.30, 0.31, 0.29, 0.30, 0.30, 0.31, 0.29, 0.30, 0.30, 0.31, 0.29, 0.30])
    res = pool_clustered(y, v, cluster, model="3L", vcov="model")
    assert res.tau2 == 0.0 and res.omega2 == 0.0 and res.converged
    close(res.estimate, float(y.mean()), "estimate")
    close(res.se, math.sqrt(0.04 / 12), "se with tau2 = omega2 = 0")
    assert res.i2 == 0.0


def test_between_cluster_boundary_keeps_within_component() -> None:
    # Clusters with identical means but spread within them: tau2 = 0, omega2 > 0.
    cluster = np.repeat([1, 2, 3, 4, 5], 4)
    pattern = np.array([-0.5, 0.5, -0.3, 0.3])
    y = np.tile(pattern, 5) + 0.1
    v = np.full(20, 0.01)
    res = pool_clustered(y, v, cluster, model="3L", vcov="model")
    assert res.tau2 == 0.0 and res.omega2 is not None and res.omega2 > 0
    # On that boundary the 3L model is the univariate REML model with tau2 = omega2.
    uni = pool(y, v, method="REML")
    close(res.omega2, uni.tau2, "omega2 = univariate tau2")
    close(res.estimate, uni.estimate, "estimate")


def test_identical_effects_give_zero_robust_se_without_warnings() -> None:
    y = np.full(6, 0.25)
    res = pool_clustered(y, np.full(6, 0.02), [1, 1, 2, 2, 3, 3])
    assert res.estimate == pytest.approx(0.25, abs=1e-15)
    assert res.se == pytest.approx(0.0, abs=1e-12)
    assert res.ci_low == pytest.approx(0.25) and res.ci_high == pytest.approx(0.25)


def test_single_cluster_is_refused() -> None:
    with pytest.raises(StatsError, match="single cluster"):
        pool_clustered([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], ["a", "a", "a"])
    with pytest.raises(StatsError, match="single cluster"):
        pool_clustered([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], [1, 1, 1], vcov="model")


@pytest.mark.parametrize("model", ["3L", "CE", "CHE", "CORR", "HIER"])
def test_all_singletons_fall_back_to_the_univariate_engine(model: str) -> None:
    y, v, _ = random_clustered(3, [1] * 8)
    res = pool_clustered(y, v, range(8), model=model, method="DL", test="knha")
    uni = pool(y, v, method="DL", test="knha")
    assert res.model == "univariate" and res.vcov == "model"
    assert res.method == "DL" and res.test == "knha"
    assert res.n_clusters == 8 and res.omega2 is None and res.rho is None
    for name in ("estimate", "se", "statistic", "p_value", "ci_low", "ci_high", "tau2", "i2"):
        assert getattr(res, name) == pytest.approx(getattr(uni, name), rel=1e-12), name
    with pytest.raises(StatsError, match="single effect size"):
        pool_clustered(y, v, range(8), model=model, singletons="raise")


def test_a_failing_univariate_cell_does_not_take_the_others_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import evidence.stats.clustered as clustered

    def all_at_once(*args: Any, **kwargs: Any) -> Any:
        raise ConvergenceError("cell 1: no root")

    def one_by_one(y: np.ndarray, v: np.ndarray, **kwargs: Any) -> Any:
        if len(y) == 3:
            raise ConvergenceError("no root")
        return pool(y, v, **kwargs)

    monkeypatch.setattr(clustered, "pool_cells", all_at_once)
    monkeypatch.setattr(clustered, "pool", one_by_one)
    y, v, _ = random_clustered(4, [1] * 7)
    errors: dict[Hashable, str] = {}
    out = pool_cells_clustered(y, v, list("aaaabbb"), range(7), method="PM", errors=errors)
    assert list(out) == ["a"] and errors == {"b": "ConvergenceError: no root"}
    close(out["a"].estimate, pool(y[:4], v[:4], method="PM").estimate, "estimate")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yi": [0.1, float("nan"), 0.3]}, "yi contains NaN"),
        ({"yi": [0.1, float("inf"), 0.3]}, "yi contains NaN"),
        ({"vi": [0.01, float("nan"), 0.02]}, "vi contains NaN"),
        ({"vi": [0.01, 0.0, 0.02]}, "vi must be > 0"),
        ({"vi": [0.01, -0.1, 0.02]}, "vi must be > 0"),
        ({"vi": [0.01, 0.02]}, "yi has 3 entries, vi has 2"),
        ({"cluster": [1, 1]}, "cluster has 2 entries"),
        ({"cluster": [1, None, 2]}, "must not be missing"),
        ({"cluster": np.array([1.0, np.nan, 2.0])}, "must not be missing"),
        ({"cluster": [[1], [2], [3]]}, "hashable"),
        ({"yi": [[0.1, 0.2, 0.3]]}, "one-dimensional"),
        ({"yi": []}, "yi has 0 entries|no effect sizes"),
        ({"model": "RVE"}, "unknown model"),
        ({"vcov": "CR3"}, "unknown vcov"),
        ({"model": "CORR", "vcov": "model"}, "only robust inference"),
        ({"vcov": "model", "test": "knha"}, "not available for a multilevel model"),
        ({"rho": 1.0}, "0 <= rho < 1"),
        ({"rho": -0.2}, "0 <= rho < 1"),
        ({"model": "CORR", "rho": 1.2}, "0 <= rho <= 1"),
        ({"level": 1.0}, "level must be between 0 and 1"),
        ({"level": "high"}, "level must be between 0 and 1"),
        ({"singletons": "drop"}, "singletons must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"yi": [0.1, 0.2, 0.3], "vi": [0.01, 0.02, 0.03], "cluster": [1, 1, 2]}
    args.update(kwargs)
    yi, vi, cluster = args.pop("yi"), args.pop("vi"), args.pop("cluster")
    with pytest.raises(StatsError, match=message):
        pool_clustered(yi, vi, cluster, **args)


def test_rho_is_ignored_by_models_without_imputed_covariance() -> None:
    a = fit("3L", rho=0.99)
    b = fit("3L", rho=0.0)
    assert a.estimate == b.estimate and a.rho is None


def test_non_convergence_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import evidence.stats.multilevel as multilevel

    monkeypatch.setattr(multilevel, "MAX_ITER", 1)
    with pytest.raises(ConvergenceError, match="did not converge"):
        fit("CHE")
    y, v, district = data()
    errors: dict[Hashable, str] = {}
    assert pool_cells_clustered(y, v, np.zeros(56), district, errors=errors) == {}
    assert errors[0.0].startswith("ConvergenceError: REML did not converge")


# --------------------------------------------------------------------------------------
# impute_covariance
# --------------------------------------------------------------------------------------


def test_impute_covariance_matches_club_sandwich_definition() -> None:
    _, v, district = data()
    blocks = impute_covariance(v, district, 0.6)
    assert isinstance(blocks, BlockDiagonal)
    assert blocks.labels == sorted(set(district.tolist()))
    dense = blocks.dense()
    np.testing.assert_allclose(dense, dense_sampling(v, district, 0.6), rtol=0, atol=0)
    # First district: vi = 0.118, 0.118, 0.144, 0.144.
    assert dense[0, 1] == pytest.approx(0.6 * 0.118)
    assert dense[0, 2] == pytest.approx(0.6 * math.sqrt(0.118 * 0.144))
    assert dense[3, 4] == 0.0
    assert [rows.size for rows in blocks.index] == [4, 4, 3, 4, 4, 11, 3, 8, 6, 5, 4]


def test_impute_covariance_keeps_input_order_for_unsorted_clusters() -> None:
    blocks = impute_covariance([1.0, 4.0, 9.0], ["b", "a", "b"], 0.5)
    assert blocks.labels == ["b", "a"]
    np.testing.assert_array_equal(blocks.index[0], [0, 2])
    expected = np.array([[1.0, 0.0, 1.5], [0.0, 4.0, 0.0], [1.5, 0.0, 9.0]])
    np.testing.assert_allclose(blocks.dense(), expected)
    with pytest.raises(StatsError):
        impute_covariance([1.0, -1.0], [1, 1], 0.5)
    with pytest.raises(StatsError):
        impute_covariance([1.0, 1.0], [1, 1], 1.5)


# --------------------------------------------------------------------------------------
# Many cells at once
# --------------------------------------------------------------------------------------


def test_cells_with_tuple_labels_and_unpoolable_cells() -> None:
    y, v, district = data()
    cell_y = np.concatenate([y, [0.2, 0.4, 0.1], [0.3, 0.1]])
    cell_v = np.concatenate([v, [0.02, 0.03, 0.02], [0.05, 0.04]])
    cells = [(1, 2)] * 56 + [(3, 4)] * 3 + [(5, 6)] * 2
    clusters = [*district.tolist(), 900, 900, 900, 901, 902]
    errors: dict[Hashable, str] = {}
    out = pool_cells_clustered(cell_y, cell_v, cells, clusters, rho=0.6, errors=errors)
    assert list(out) == [(1, 2), (5, 6)]
    ref = reference()["CHE_working_model"]["clubSandwich_CR2_refined"]
    close(out[(1, 2)].se, ref["SE"], "SE of the full cell")
    assert out[(5, 6)].model == "univariate" and out[(5, 6)].k == 2
    assert list(errors) == [(3, 4)] and "single cluster" in errors[(3, 4)]
    # Without an errors dict the unpoolable cell is still just left out.
    assert list(pool_cells_clustered(cell_y, cell_v, cells, clusters, rho=0.6)) == [(1, 2), (5, 6)]


def test_a_study_in_two_cells_is_a_separate_cluster_in_each() -> None:
    y, v, district = data()
    doubled = pool_cells_clustered(
        np.concatenate([y, y]), np.concatenate([v, v]), ["a"] * 56 + ["b"] * 56,
        np.concatenate([district, district]), model="3L", vcov="model",
    )  # fmt: skip
    ref = reference()["three_level"]["refined"]
    for cell in ("a", "b"):
        close(doubled[cell].estimate, ref["b"], "b")
        close(doubled[cell].tau2, ref["sigma2"][0], "tau2")


CELL = st.tuples(
    st.lists(st.integers(1, 4), min_size=1, max_size=5),  # cluster sizes
    st.integers(0, 2**32 - 1),  # seed for the values
)


def build_map(
    cells: list[tuple[list[int], int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ys, vs, cell_ids, cluster_ids = [], [], [], []
    for index, (sizes, seed) in enumerate(cells):
        y, v, cluster = random_clustered(seed, sizes, spread=0.4)
        ys.append(y)
        vs.append(v)
        cell_ids.append(np.full(y.size, index))
        cluster_ids.append(cluster + 10 * index)
    return (
        np.concatenate(ys),
        np.concatenate(vs),
        np.concatenate(cell_ids),
        np.concatenate(cluster_ids),
    )


FIELDS = (
    "estimate", "se", "statistic", "df", "p_value", "ci_low", "ci_high", "tau2", "omega2",
    "i2", "q", "q_p", "pi_low", "pi_high",
)  # fmt: skip


def assert_same(a: ClusteredResult, b: ClusteredResult, rel: float) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        if math.isnan(x) or math.isnan(y):
            assert math.isnan(x) and math.isnan(y), name
            continue
        assert abs(x - y) <= max(rel * abs(y), 1e-12), f"{name}: {x!r} != {y!r}"
    for name in ("k", "n_clusters", "q_df", "model", "vcov", "test", "method", "rho"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_allclose(a.weights, b.weights, rtol=rel, atol=1e-12)


OPTIONS = st.sampled_from(
    [
        {"model": "CHE", "rho": 0.8},
        {"model": "CHE", "rho": 0.3, "vcov": "model", "test": "t"},
        {"model": "3L", "vcov": "model"},
        {"model": "3L", "small": False},
        {"model": "CE", "rho": 0.6},
        {"model": "CORR", "rho": 0.8},
        {"model": "HIER"},
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(CELL, min_size=1, max_size=5), options=OPTIONS)
def test_cells_equal_each_cell_pooled_alone(
    cells: list[tuple[list[int], int]], options: dict[str, Any]
) -> None:
    y, v, cell, cluster = build_map(cells)
    errors: dict[Hashable, str] = {}
    together = pool_cells_clustered(y, v, cell, cluster, errors=errors, **options)
    assert set(together) | set(errors) == set(range(len(cells)))
    for index in range(len(cells)):
        rows = cell == index
        try:
            alone = pool_clustered(y[rows], v[rows], cluster[rows], **options)
        except StatsError as problem:
            assert errors[index] == f"{type(problem).__name__}: {problem}"
            assert index not in together
            continue
        assert_same(together[index], alone, rel=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(CELL, min_size=1, max_size=4),
    options=OPTIONS,
    order_seed=st.integers(0, 2**32 - 1),
)
def test_input_order_does_not_matter(
    cells: list[tuple[list[int], int]], options: dict[str, Any], order_seed: int
) -> None:
    y, v, cell, cluster = build_map(cells)
    order = np.random.default_rng(order_seed).permutation(y.size)
    assume(not np.array_equal(order, np.arange(y.size)))
    first = pool_cells_clustered(y, v, cell, cluster, **options)
    shuffled = pool_cells_clustered(y[order], v[order], cell[order], cluster[order], **options)
    assert set(first) == set(shuffled)
    for key, res in first.items():
        other = shuffled[key]
        # Weights come back in each call's own input order within the cell.
        rows = np.flatnonzero(cell == key)
        rows_shuffled = np.flatnonzero(cell[order] == key)
        position = {int(r): i for i, r in enumerate(rows)}
        back = np.empty_like(other.weights)
        for i, r in enumerate(order[rows_shuffled]):
            back[position[int(r)]] = other.weights[i]
        assert_same(res, ClusteredResult(**{**vars(other), "weights": back}), rel=1e-8)


def test_map_scale_run_converges_everywhere() -> None:
    rng = np.random.default_rng(5)
    cells = [(list(rng.integers(1, 6, size=5)), int(rng.integers(2**32))) for _ in range(300)]
    y, v, cell, cluster = build_map(cells)
    errors: dict[Hashable, str] = {}
    out = pool_cells_clustered(y, v, cell, cluster, errors=errors)
    assert not errors
    assert len(out) == 300
    assert all(r.converged for r in out.values() if r.model == "CHE")


def test_undefined_moment_estimate_drops_only_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    import evidence.stats.rve as rve

    real = rve.robu_hier

    def first_cell_undefined(layout: Any) -> Any:
        moments = real(layout)
        moments.omega2[0] = math.nan
        moments.tau2[0] = math.nan
        return moments

    y, v, district = data()
    expected = fit("HIER")
    monkeypatch.setattr(rve, "robu_hier", first_cell_undefined)
    errors: dict[Hashable, str] = {}
    out = pool_cells_clustered(
        np.concatenate([y, y]), np.concatenate([v, v]), ["a"] * 56 + ["b"] * 56,
        np.concatenate([district, district]), model="HIER", errors=errors,
    )  # fmt: skip
    assert list(out) == ["b"] and errors["a"].startswith("StatsError: the moment estimators")
    assert_same(out["b"], expected, rel=1e-12)
