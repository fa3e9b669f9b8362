"""Benchmark of Egger's test at map scale; run by hand: `python bench/egger.py`.

A simulated map like the largest real one: 2,400 cells with a heavy-tailed number of
effect sizes (median 2, a few with 1,000 to 5,000, about 100,000 in all) and several
effect sizes per study. Measured, each as wall time (best of --repeat runs) and peak
memory (tracemalloc, in a separate run so that tracing does not slow the timing):

  1. Egger's test of every cell with at least --min-k effect sizes: the former map path
     (a scan of all rows per cell, then egger_test with its k x k matrices) against
     one egger_tests call;
  2. one cell of 4,869 effect sizes (the busiest aggregate cell of the real map) alone;
  3. the whole pooling step of a map request (what evidence.synthesis.pooling.pool_rows
     does, without Django): pool_cells_clustered (CHE + CR2, univariate REML for cells of
     single-effect studies) followed by Egger's test, old and new.

The old path is slow (tens of seconds on the full map); --quick skips it for step 3.
The largest difference between the old and new Egger p-values is printed as a check.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.stats import pool_cells_clustered
from evidence.stats.egger_cells import egger_tests
from evidence.stats.pubbias import egger_test
from evidence.stats.results import StatsError

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------------------
# a simulated map
# --------------------------------------------------------------------------------------


def cell_sizes(rng: np.random.Generator, n_cells: int, total: int) -> np.ndarray:
    """Heavy-tailed cell sizes: log-normal with median 2 for most cells, then cells of
    1,000-5,000 (one of 1,473 and one of 4,869, as in the real map) until `total`."""
    big = [4869, 1473]
    small = np.clip(np.rint(rng.lognormal(np.log(2.0), 2.0, n_cells - len(big))), 1, 999)
    sizes = np.concatenate([small, big]).astype(np.int64)
    i = 0
    while sizes.sum() < total:  # turn random small cells into big ones
        sizes[i] = int(rng.integers(1000, 5001))
        i += 1
    rng.shuffle(sizes)
    return sizes


def simulate_map(rng: np.random.Generator, n_cells: int, total: int) -> Arrays:
    sizes = cell_sizes(rng, n_cells, total)
    codes = np.repeat(np.arange(n_cells), sizes)
    n = codes.size
    # Studies: each cell draws its studies from a common pool, 1 to 3 ES per study on
    # average, so that most cells hold several ES of one study (the CHE + CR2 path).
    per_study = rng.uniform(1.0, 3.0, n_cells)
    n_studies = np.maximum(1, np.rint(sizes / per_study)).astype(np.int64)
    clusters = np.floor(rng.random(n) * np.repeat(n_studies, sizes)).astype(np.int64)
    clusters += np.repeat(rng.integers(0, 50_000, n_cells), sizes)  # study ids
    vi = rng.uniform(0.003, 0.25, n)
    mu = rng.normal(0.2, 0.2, n_cells)[codes]
    tau2 = rng.uniform(0.0, 0.06, n_cells)[codes]
    bias = rng.choice([0.0, 0.0, 1.0], n_cells)[codes]  # small-study effects in a third
    yi = rng.normal(mu + bias * np.sqrt(vi), np.sqrt(vi + tau2))
    order = rng.permutation(n)  # rows of a cell are interleaved, as the membership gives them
    return {"codes": codes[order], "clusters": clusters[order], "yi": yi[order], "vi": vi[order]}


# --------------------------------------------------------------------------------------
# old and new Egger paths (as evidence.synthesis.pooling before and after)
# --------------------------------------------------------------------------------------


def egger_old(data: Arrays, min_k: int) -> dict[int, float]:
    codes, yi, vi = data["codes"], data["yi"], data["vi"]
    out: dict[int, float] = {}
    for code in np.flatnonzero(np.bincount(codes) >= min_k):
        mask = codes == code
        try:
            out[int(code)] = egger_test(yi[mask], vi[mask]).p_value
        except StatsError:
            continue
    return out


def egger_new(data: Arrays, min_k: int) -> dict[int, float]:
    codes, yi, vi = data["codes"], data["yi"], data["vi"]
    eligible = np.bincount(codes)[codes] >= min_k
    tests = egger_tests(yi[eligible], vi[eligible], codes[eligible])
    return {cast(int, code): result.p_value for code, result in tests.items()}


def pooling(data: Arrays, egger: Callable[[Arrays, int], dict[int, float]], min_k: int) -> Any:
    pooled = pool_cells_clustered(
        data["yi"], data["vi"], data["codes"], data["clusters"], rho=0.8, method="REML", test="z"
    )
    return pooled, egger(data, min_k)


# --------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------


def timed(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Smallest wall time of `repeat` runs (the least disturbed by other work)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak memory traced while `fn` runs (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def compare(name: str, old: Callable[[], Any], new: Callable[[], Any], repeat: int) -> tuple[Any, Any]:
    t_old, out_old = timed(1, old)
    t_new, out_new = timed(repeat, new)
    m_old, m_new = peak_mib(old), peak_mib(new)
    print(f"{name}")
    print(f"  time    old {t_old:9.3f} s    new {t_new:9.4f} s    old/new {t_old / t_new:8.1f}x")
    print(f"  memory  old {m_old:9.1f} MiB  new {m_new:9.1f} MiB  old/new {m_old / m_new:8.1f}x")
    return out_old, out_new


def largest_difference(old: dict[int, float], new: dict[int, float]) -> str:
    if set(old) != set(new):
        return f"DIFFERENT CELLS: {sorted(set(old) ^ set(new))[:10]}"
    worst = max((abs(new[c] - old[c]) for c in old), default=0.0)
    return f"same {len(old)} cells, largest |p_new - p_old| = {worst:.2e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2400)
    parser.add_argument("--total", type=int, default=100_000, help="effect sizes in all")
    parser.add_argument("--min-k", type=int, default=10, help="the map's egger_min_k")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new path (best kept)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--quick", action="store_true", help="skip the old full pooling step")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    data = simulate_map(rng, args.cells, args.total)
    sizes = np.bincount(data["codes"])
    eligible = sizes >= args.min_k
    print(
        f"map: {sizes.size} cells, {data['codes'].size} effect sizes; cell size median "
        f"{int(np.median(sizes))}, max {sizes.max()}, {int((sizes >= 1000).sum())} cells of "
        f">= 1,000; Egger's test in {int(eligible.sum())} cells ({int(sizes[eligible].sum())} ES)"
    )

    old, new = compare(
        f"1. Egger's test, every cell with k >= {args.min_k}",
        lambda: egger_old(data, args.min_k),
        lambda: egger_new(data, args.min_k),
        args.repeat,
    )
    print(f"  check: {largest_difference(old, new)}")

    big = int(np.flatnonzero(sizes == 4869)[0])
    one = {name: column[data["codes"] == big] for name, column in data.items()}
    old, new = compare(
        "2. one cell of 4,869 effect sizes",
        lambda: egger_old(one, args.min_k),
        lambda: egger_new(one, args.min_k),
        args.repeat,
    )
    print(f"  check: {largest_difference(old, new)}")

    t_pool, _ = timed(args.repeat, lambda: pool_cells_clustered(
        data["yi"], data["vi"], data["codes"], data["clusters"], rho=0.8, method="REML", test="z"
    ))
    print(f"3. pooling step of a map request (pool_cells_clustered alone: {t_pool:.3f} s)")
    if args.quick:
        t_new, _ = timed(args.repeat, lambda: pooling(data, egger_new, args.min_k))
        print(f"  time    new {t_new:9.3f} s (old skipped: --quick)")
        print(f"  memory  new {peak_mib(lambda: pooling(data, egger_new, args.min_k)):9.1f} MiB")
        return
    compare(
        "   pool_cells_clustered + Egger's test",
        lambda: pooling(data, egger_old, args.min_k),
        lambda: pooling(data, egger_new, args.min_k),
        args.repeat,
    )


if __name__ == "__main__":
    main()
