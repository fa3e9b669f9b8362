"""Benchmark of the statistics engine; run by hand: `make bench` (or `python bench/stats.py`).

Work measured (the same data for both engines):
  1. a simulated 50 x 50 map with 20 effect sizes per cell (50,000 ES): every cell pooled with
     REML + Knapp-Hartung, and with DerSimonian-Laird + z;
  2. 2,000 effect sizes in 400 studies: three-level REML, CHE + CR2, and robumeta-style RVE;
  3. the same map with a 3-level moderator in every cell: subgroup analysis (each level
     pooled by REML, Q between levels) and meta-regression (REML + knha) in every cell.
The anchor is R's metafor doing the same work with a loop over cells (the way a portal
would call it). When `Rscript` with metafor is installed (Debian: r-base-core r-cran-metafor)
it runs in the same process tree and the ratio anchor/ours is printed, with the largest
difference between the two engines' estimates. Without R, only our times are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.stats import (
    meta_regression_cells,
    pool_cells,
    pool_clustered,
    subgroup_analysis_cells,
)


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Smallest wall time of `repeat` runs (the least disturbed by other work on the machine)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def simulate_map(rng: np.random.Generator, rows: int, cols: int, per_cell: int) -> dict[str, np.ndarray]:
    n_cells = rows * cols
    cell = np.repeat(np.arange(n_cells), per_cell)
    mu = rng.normal(0.15, 0.2, n_cells)[cell]
    tau2 = rng.uniform(0.0, 0.08, n_cells)[cell]
    vi = rng.uniform(0.005, 0.15, cell.size)
    yi = rng.normal(mu, np.sqrt(vi + tau2))
    # A 3-level moderator, each level in every cell, with a small effect of its own.
    level = np.tile(np.array(["a", "b", "c"]), cell.size // 3 + 1)[: cell.size]
    yi = yi + np.where(level == "b", 0.1, np.where(level == "c", -0.05, 0.0))
    return {"yi": yi, "vi": vi, "cell": cell, "level": level}


def simulate_clustered(rng: np.random.Generator, k: int, studies: int) -> dict[str, np.ndarray]:
    study = np.sort(rng.integers(0, studies, k))
    study_effect = rng.normal(0.2, np.sqrt(0.05), studies)[study]
    vi = rng.uniform(0.01, 0.1, k)
    yi = rng.normal(study_effect, np.sqrt(vi + 0.02))
    return {"yi": yi, "vi": vi, "study": study, "es": np.arange(k)}


R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
m <- read.csv(args[1]); cl <- read.csv(args[2])
m$level <- c("a", "b", "c")[m$level + 1]
ctrl <- list(threshold = 1e-10, maxiter = 1000, stepadj = 0.5)
time_it <- function(f) { t <- system.time(r <- f())[["elapsed"]]; list(t = t, r = r) }
cells <- split(seq_len(nrow(m)), m$cell)
reml <- time_it(function() vapply(cells, function(i)
  coef(rma(m$yi[i], m$vi[i], method = "REML", test = "knha", control = ctrl)), 0))
dl <- time_it(function() vapply(cells, function(i)
  coef(rma(m$yi[i], m$vi[i], method = "DL")), 0))
three <- time_it(function() coef(rma.mv(yi, vi, random = ~ 1 | study/es, data = cl)))
subgroups <- time_it(function() vapply(cells, function(i) {
  fits <- lapply(split(i, m$level[i]), function(j)
    rma(m$yi[j], m$vi[j], method = "REML", control = ctrl))
  est <- vapply(fits, coef, 0); se <- vapply(fits, function(f) f$se, 0)
  rma(est, sei = se, mods = ~ factor(names(fits)), method = "FE")$QM
}, 0))
metareg <- time_it(function() vapply(cells, function(i)
  coef(rma(m$yi[i], m$vi[i], mods = ~ factor(m$level[i]), method = "REML", test = "knha",
           control = ctrl))[2], 0))
out <- list(subgroups_s = subgroups$t, subgroups_b = unname(subgroups$r),
            metareg_s = metareg$t, metareg_b = unname(metareg$r), reml_s = reml$t, reml_b = unname(reml$r), dl_s = dl$t, dl_b = unname(dl$r),
            three_level_s = three$t, three_level_b = unname(three$r))
if (requireNamespace("robumeta", quietly = TRUE)) {
  rv <- time_it(function() robumeta::robu(yi ~ 1, data = cl, studynum = study, var.eff.size = vi,
                                           modelweights = "CORR", rho = 0.8, small = TRUE)$b.r[1])
  out$corr_s <- rv$t; out$corr_b <- rv$r
}
cat(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def run_metafor(map_data: dict[str, np.ndarray], clustered: dict[str, np.ndarray]) -> dict[str, Any] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    check = subprocess.run([rscript, "-e", "library(metafor); library(jsonlite)"], capture_output=True)
    if check.returncode != 0:
        print("Rscript found, but metafor or jsonlite is missing: comparing skipped.")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        map_csv, cl_csv, script = Path(tmp, "map.csv"), Path(tmp, "cl.csv"), Path(tmp, "bench.R")
        level_code = np.searchsorted(np.array(["a", "b", "c"]), map_data["level"])
        np.savetxt(map_csv, np.column_stack([map_data["yi"], map_data["vi"], map_data["cell"], level_code]),
                   delimiter=",", header="yi,vi,cell,level", comments="", fmt=["%.17g", "%.17g", "%d", "%d"])
        np.savetxt(cl_csv, np.column_stack([clustered["yi"], clustered["vi"], clustered["study"], clustered["es"]]),
                   delimiter=",", header="yi,vi,study,es", comments="", fmt=["%.17g", "%.17g", "%d", "%d"])
        script.write_text(R_SCRIPT)
        done = subprocess.run([rscript, str(script), str(map_csv), str(cl_csv)], capture_output=True, text=True)
        if done.returncode != 0:
            print("metafor run failed:\n" + done.stderr)
            return None
        return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best is kept)")
    parser.add_argument("--no-r", action="store_true", help="do not run metafor even when installed")
    args = parser.parse_args()

    rng = np.random.default_rng(20261123)
    map_data = simulate_map(rng, 50, 50, 20)
    clustered = simulate_clustered(rng, 2000, 400)
    yi, vi, cell = map_data["yi"], map_data["vi"], map_data["cell"]

    ours: dict[str, float] = {}
    estimates: dict[str, np.ndarray | float] = {}
    pool_cells(yi[:200], vi[:200], cell[:200])  # warm-up: imports, first allocations
    ours["reml"], res = best_of(args.repeat, lambda: pool_cells(yi, vi, cell, method="REML", test="knha"))
    estimates["reml"] = np.array([res[c].estimate for c in sorted(res)])
    ours["dl"], res = best_of(args.repeat, lambda: pool_cells(yi, vi, cell, method="DL", test="z"))
    estimates["dl"] = np.array([res[c].estimate for c in sorted(res)])

    level = map_data["level"]
    ours["subgroups"], res_s = best_of(args.repeat, lambda: subgroup_analysis_cells(yi, vi, cell, level))
    estimates["subgroups"] = np.array([res_s[c].q_between for c in sorted(res_s)])
    ours["metareg"], res_m = best_of(
        args.repeat,
        lambda: meta_regression_cells(yi, vi, cell, level, categorical=True, method="REML", test="knha"),
    )
    estimates["metareg"] = np.array([res_m[c].b[1] for c in sorted(res_m)])

    y2, v2, s2 = clustered["yi"], clustered["vi"], clustered["study"]
    ours["three_level"], r3 = best_of(args.repeat, lambda: pool_clustered(y2, v2, s2, model="3L", vcov="model"))
    estimates["three_level"] = r3.estimate
    ours["che_cr2"], _ = best_of(args.repeat, lambda: pool_clustered(y2, v2, s2, model="CHE", rho=0.8))
    ours["corr"], rc = best_of(args.repeat, lambda: pool_clustered(y2, v2, s2, model="CORR", rho=0.8))
    estimates["corr"] = rc.estimate

    anchor = None if args.no_r else run_metafor(map_data, clustered)

    labels = {
        "reml": "2,500 cells x 20 ES, REML + knha",
        "dl": "2,500 cells x 20 ES, DL + z",
        "three_level": "2,000 ES / 400 studies, three-level REML",
        "che_cr2": "2,000 ES / 400 studies, CHE + CR2 (Satterthwaite)",
        "corr": "2,000 ES / 400 studies, RVE correlated weights",
        "subgroups": "2,500 cells, 3-level subgroups (REML), Q between",
        "metareg": "2,500 cells, 3-level meta-regression, REML + knha",
    }
    print(f"{'work':<52}{'ours (s)':>10}{'metafor (s)':>13}{'ratio':>9}{'max |diff|':>12}")
    for key, label in labels.items():
        line = f"{label:<52}{ours[key]:>10.4f}"
        if anchor and f"{key}_s" in anchor:
            theirs = float(anchor[f"{key}_s"])
            diff = float(np.max(np.abs(np.asarray(estimates[key]) - np.asarray(anchor[f"{key}_b"]))))
            line += f"{theirs:>13.3f}{theirs / ours[key]:>8.0f}x{diff:>12.1e}"
        print(line)
    if anchor is None:
        print("\n(no metafor run: install r-base-core and r-cran-metafor to print ratios to the anchor)")
    else:
        print("\nratio = metafor's time / ours for the same work (higher is better); anchor: metafor per-cell loop")
    if anchor and "metareg_s" in anchor:
        for key in ("subgroups", "metareg"):
            ratio = float(anchor[f"{key}_s"]) / ours[key]
            print(f"target: {labels[key]} >= 100x metafor -> {'met' if ratio >= 100 else 'NOT met'} ({ratio:.0f}x)")
    print(f"target: 2,500 REML cells in <= 0.1 s -> {'met' if ours['reml'] <= 0.1 else 'NOT met'} ({ours['reml']:.4f} s)")


if __name__ == "__main__":
    main()
