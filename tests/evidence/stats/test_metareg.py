"""Meta-regression and subgroup analysis against R metafor and clubSandwich."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evidence.stats import (
    StatsError,
    meta_regression,
    meta_regression_cells,
    meta_regression_clustered,
    subgroup_analysis,
    subgroup_analysis_cells,
)
from evidence.stats.metareg import MetaRegression

from .reference import load

BCG = load("moderators_bcg")
KONST = load("moderators_konstantopoulos2011")
EXTRA = load("moderators_extra")
Y, V = BCG["input"]["yi"], BCG["input"]["vi"]
MODS = BCG["input"]["moderators"]


def close(ours: Any, theirs: Any, rel: float) -> None:
    a = np.atleast_1d(np.asarray(ours, dtype=float))
    b = np.atleast_1d(np.asarray(theirs, dtype=float))
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rel, atol=1e-12)


def check_regression(res: MetaRegression, ref: dict[str, Any], *, fixed: bool = False) -> None:
    pairs = {
        "b": res.b,
        "se": res.se,
        "stat": res.statistic,
        "pval": res.p_value,
        "ci.lb": res.ci_low,
        "ci.ub": res.ci_high,
        "QM": res.qm,
        "QMp": res.qm_p,
        "QE": res.qe,
        "QEp": res.qe_p,
        "tau2": res.tau2,
        "I2": res.i2,
        "R2": res.r2,
    }
    for name, value in pairs.items():
        close(value, ref[name], 1e-6)
    assert res.k == ref["k"]
    if "QMdf" in ref:
        assert res.qm_df == ref["QMdf"][0]
        assert res.qm_df_denom == ref["QMdf"][1]
        assert res.qe_df == ref["QEdf"]
        assert len(res.coef_names) == len(ref["coef_names"])


@pytest.mark.parametrize("key", sorted(BCG["metareg"]))
def test_meta_regression_matches_metafor(key: str) -> None:
    moderator, method, test = key.split("|")
    ref = BCG["metareg"][key]
    res = meta_regression(
        Y, V, MODS[moderator], categorical=ref["categorical"], method=method, test=test
    )
    check_regression(res, ref)
    assert res.df == (None if test == "z" else ref["k"] - len(ref["b"]))


def test_subgroups_match_metafor() -> None:
    ref = BCG["subgroup"]["alloc|REML"]
    res = subgroup_analysis(Y, V, MODS["alloc"])
    assert res.levels == ref["levels"]
    for level, group in res.groups.items():
        expected = ref["groups"][level]
        assert group.k == expected["k"]
        for ours, theirs in (
            (group.estimate, "b"),
            (group.se, "se"),
            (group.ci_low, "ci.lb"),
            (group.ci_high, "ci.ub"),
            (group.tau2, "tau2"),
            (group.i2, "I2"),
            (group.q, "QE"),
            (group.p_value, "pval"),
        ):
            close(ours, expected[theirs], 1e-6)
    close(res.q_between, ref["Q_between"], 1e-6)
    assert res.df == ref["df"]
    close(res.p_value, ref["p"], 1e-6)


def test_several_moderators() -> None:
    res = meta_regression(Y, V, {"ablat": MODS["ablat"], "year": MODS["year"]})
    assert res.coef_names == ("intrcpt", "ablat", "year")
    check_regression(res, EXTRA["ablat_year_REML_z"])
    mixed = meta_regression(
        Y,
        V,
        {"ablat": MODS["ablat"], "alloc": MODS["alloc"]},
        categorical=["alloc"],
        test="knha",
    )
    assert mixed.coef_names == ("intrcpt", "ablat", "alloc=random", "alloc=systematic")
    check_regression(mixed, EXTRA["ablat_alloc_REML_knha"])


def test_level_with_one_study() -> None:
    alloc = EXTRA["input"]["alloc_single"]
    check_regression(meta_regression(Y, V, alloc, categorical=True), EXTRA["alloc_single_REML_z"])
    sub = subgroup_analysis(Y, V, alloc)
    single = sub.groups["alternate"]
    assert single.k == 1 and single.tau2 == 0.0
    assert single.estimate == pytest.approx(Y[5])
    assert single.se == pytest.approx(np.sqrt(V[5]))


def test_missing_moderator_values_are_left_out() -> None:
    year = EXTRA["input"]["year_missing"]
    res = meta_regression(Y, V, year)
    assert res.k == 11
    check_regression(res, EXTRA["year_missing_REML_z"])
    groups = list(MODS["alloc"])
    groups[0] = None
    groups[1] = ""
    sub = subgroup_analysis(Y, V, groups)
    assert sum(g.k for g in sub.groups.values()) == 11


@pytest.mark.parametrize(
    ("moderator", "categorical", "message"),
    [
        ([1990] * 13, False, "single value"),
        (["a"] * 13, True, "single level"),
        ([1.0] * 12, False, "12 values for 13"),
        (["x", "y"] + [None] * 11, True, "more effect sizes"),
        (["a", 1] + ["b"] * 11, False, "must be numeric"),
    ],
)
def test_unusable_moderators_raise(moderator: list[Any], categorical: bool, message: str) -> None:
    with pytest.raises(StatsError, match=message):
        meta_regression(Y, V, moderator, categorical=categorical)


def test_collinear_moderators_raise() -> None:
    with pytest.raises(StatsError, match="collinear"):
        meta_regression(Y, V, {"a": MODS["ablat"], "b": [2 * a for a in MODS["ablat"]]})


def test_unknown_options_raise() -> None:
    with pytest.raises(StatsError, match="unknown method"):
        meta_regression(Y, V, MODS["ablat"], method="SJ")
    with pytest.raises(StatsError, match="unknown test"):
        meta_regression(Y, V, MODS["ablat"], test="adhoc")


def test_subgroups_need_two_levels() -> None:
    with pytest.raises(StatsError, match="two groups"):
        subgroup_analysis(Y, V, ["a"] * 13)


def test_many_cells_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    n_cells, per = 40, 12
    cell = np.repeat(np.arange(n_cells), per)
    level = np.tile(["a", "b", "c"], n_cells * per // 3)
    x = rng.normal(size=cell.size)
    vi = rng.uniform(0.01, 0.2, cell.size)
    yi = rng.normal(0.2 + 0.1 * (level == "b") + 0.05 * x, np.sqrt(vi + 0.03))
    batched = meta_regression_cells(yi, vi, cell, level, categorical=True, test="knha")
    grouped = subgroup_analysis_cells(yi, vi, cell, level)
    assert len(batched) == n_cells and len(grouped) == n_cells
    for c in (0, 17, 39):
        rows = cell == c
        one = meta_regression(yi[rows], vi[rows], level[rows], categorical=True, test="knha")
        close(batched[c].b, one.b, 1e-9)
        close(batched[c].se, one.se, 1e-9)
        close(batched[c].tau2, one.tau2, 1e-9)
        close(batched[c].qm, one.qm, 1e-9)
        alone = subgroup_analysis(yi[rows], vi[rows], level[rows])
        close(grouped[c].q_between, alone.q_between, 1e-9)
    several = meta_regression_cells(yi, vi, cell, {"level": level, "x": x}, categorical=["level"])
    one = meta_regression(
        yi[cell == 5],
        vi[cell == 5],
        {"level": level[cell == 5], "x": x[cell == 5]},
        categorical=["level"],
    )
    close(several[5].b, one.b, 1e-9)


def test_cells_missing_a_level_are_reported() -> None:
    level = np.array(["a", "b", "a", "b", "a", "b", "a", "a", "a", "a"])
    cell = np.repeat([0, 1], 5)
    yi = np.linspace(-0.2, 0.4, 10)
    vi = np.full(10, 0.05)
    errors: dict[Any, str] = {}
    level[5:] = "a"
    out = meta_regression_cells(yi, vi, cell, level, categorical=True, errors=errors)
    assert list(out) == [0]
    assert "does not vary" in errors[1]


# --------------------------------------------------------------------------------------
# dependent effect sizes
# --------------------------------------------------------------------------------------


def check_clustered(res: Any, ref: dict[str, Any], rel: float) -> None:
    close(res.b, ref["b"], rel)
    close(res.sigma2, ref["sigma2"], rel)
    close(res.se, ref["se_CR2"], rel)
    close(res.statistic, ref["tstat"], rel)
    close(res.df, ref["df_Satt"], rel)
    close(res.p_value, ref["p_Satt"], rel)
    wald = ref["wald_HTZ"]
    close(res.wald_f, wald["Fstat"], rel)
    assert res.wald_df_num == wald["df_num"]
    close(res.wald_df_denom, wald["df_denom"], rel)
    close(res.wald_p, wald["p_val"], rel)


def test_clustered_meta_regression_matches_clubsandwich() -> None:
    ref = KONST["clustered_metareg"]["CHE|rho=0.6|year"]
    data = KONST["input"]
    res = meta_regression_clustered(
        data["yi"], data["vi"], data["cluster"], data["moderators"]["year"], rho=0.6
    )
    check_clustered(res, ref, 1e-5 if not ref["tight_optimiser"] else 1e-6)
    close(res.model_se, ref["model_se"], 1e-5)
    assert res.n_clusters == len(set(data["cluster"]))


def test_clustered_categorical_and_several_moderators() -> None:
    data = KONST["input"]
    era = EXTRA["clustered_input"]["era"]
    year = np.asarray(data["moderators"]["year"], dtype=float) - 1990
    y, v, cl = data["yi"], data["vi"], data["cluster"]
    res = meta_regression_clustered(y, v, cl, era, categorical=True, rho=0.8)
    assert res.wald_df_num == 2
    check_clustered(res, EXTRA["che_era"], 1e-6)
    both = meta_regression_clustered(
        y, v, cl, {"era": era, "year": year}, categorical=["era"], rho=0.8
    )
    assert both.wald_df_num == 3
    check_clustered(both, EXTRA["che_era_year"], 1e-6)
    three = meta_regression_clustered(y, v, cl, year, model="3L")
    check_clustered(three, EXTRA["three_level_year"], 1e-6)


def test_clustered_needs_more_studies_than_coefficients() -> None:
    with pytest.raises(StatsError, match="more studies than coefficients"):
        meta_regression_clustered(
            [0.1, 0.2, 0.3, 0.4], [0.01] * 4, ["a", "a", "b", "b"], [1.0, 2.0, 3.0, 5.0]
        )


def test_two_local_maxima_follow_metafor() -> None:
    """A restricted likelihood with maxima at 0 and inside (the higher): Newton from the Hedges
    start would walk to 0, metafor's Fisher scoring stops inside; pool, pool_cells and the
    subgroups built on them give metafor's answer."""
    from evidence.stats import pool, pool_cells

    ref = EXTRA["two_maxima"]
    assert ref["ll"] > ref["ll_zero"]
    one = pool(ref["yi"], ref["vi"])
    close(one.tau2, ref["tau2"], 1e-6)
    close(one.estimate, ref["b"], 1e-6)
    close(one.se, ref["se"], 1e-6)
    many = pool_cells(ref["yi"] * 2, ref["vi"] * 2, [0] * 6 + [1] * 6)
    close([many[0].tau2, many[1].tau2], [ref["tau2"]] * 2, 1e-6)


def test_clustered_refuses_more_effect_sizes_than_it_can_fit_densely() -> None:
    from evidence.stats.metareg_clustered import MAX_EFFECTS

    n = MAX_EFFECTS + 1
    with pytest.raises(StatsError, match="limited to"):
        meta_regression_clustered(
            np.zeros(n), np.full(n, 0.01), np.arange(n) // 2, np.arange(n, dtype=float)
        )
