"""Pooling every cell of a map at once, with the small-study test where a cell is large enough.

Takes the membership's parallel columns and hands them to the statistics engine in two
batched calls (the pooled effects, then Egger's test); a cell that cannot be pooled keeps
its reason instead of a result, so one cell never breaks the map. The batch is kept clean
first: a cell holding a value the engine cannot take (g or its variance not finite, or out
of the bounds every effect size keeps; such a row can only come from a write past the
model, by raw SQL) is left out of it as not pooled, and should the batch still fail, each
cell is fitted on its own, so that the failure stays with its cell. Both are logged.

Each cell's outcome is also kept in the shared cache under a digest of exactly what it was
computed from (the cell's effect sizes as oriented for it by the membership, their variances
and studies in order, and the map's synthesis settings), so a reversed effect size is another
input. A write changes the map's version but only the few cells that hold what was written:
the next request fits those cells and reads every other one back, and a filter that leaves a
cell's effect sizes as they were reuses it too. The digest is the
whole key, so a cached fit can never be stale.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from django.core.cache import cache as shared_cache

from evidence.models import EvidenceMap
from evidence.stats.clustered import pool_cells_clustered
from evidence.stats.egger_cells import egger_tests
from evidence.stats.results import ClusteredResult
from evidence.synthesis.membership import EffectRows
from studies.effect_sizes import G_BOUND, VAR_G_MAX, VAR_G_MIN

logger = logging.getLogger(__name__)

# Bump when what a fit returns changes within one release of the package.
FIT_SHAPE = "1"
FIT_SECONDS = 7 * 24 * 3600


@cache
def code_release() -> str:
    """The installed release of the portal: part of every cache key, since a new release may
    compute or shape results differently and the shared cache outlives a deployment."""
    try:
        return metadata.version("egm-portal")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Pooled:
    results: dict[Hashable, ClusteredResult] = field(default_factory=dict)  # by cell code
    not_pooled: dict[Hashable, str] = field(default_factory=dict)  # the engine's reason, by cell code
    egger_p: dict[int, float] = field(default_factory=dict)
    fitted: int = 0  # cells computed by this call (the others came from the cache)


@dataclass(frozen=True)
class _Fit:
    """What one cell's pooling gave: a result or the reason there is none, and Egger's p."""

    result: ClusteredResult | None
    reason: str
    egger_p: float | None


def _settings(evidence_map: EvidenceMap) -> bytes:
    return (
        f"{code_release()}|{FIT_SHAPE}|{evidence_map.within_study_correlation!r}|{evidence_map.pooling_method}|"
        f"{evidence_map.pooling_test}|{evidence_map.egger_min_k}"
    ).encode()


def _digests(settings: bytes, yi: Any, vi: Any, clusters: Any, bounds: npt.NDArray[np.int64]) -> list[str]:
    keys = []
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        digest = hashlib.blake2b(settings, digest_size=20)
        digest.update(yi[start:end])
        digest.update(vi[start:end])
        digest.update(clusters[start:end])
        keys.append(f"egm:fit:{digest.hexdigest()}")
    return keys


def _unusable(yi: Any, vi: Any) -> Any:
    """Rows whose g or variance is not finite or out of bounds: a mask."""
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(yi) & np.isfinite(vi) & (np.abs(yi) <= G_BOUND) & (vi >= VAR_G_MIN) & (vi <= VAR_G_MAX)
    return ~usable


def _bad_value_reason(yi: Any, vi: Any, ids: Any) -> str:
    """Why a cell holding unusable rows is not pooled, naming its first such effect size."""
    bad = np.flatnonzero(_unusable(yi, vi))
    first = int(bad[0])
    g_usable = bool(np.isfinite(yi[first]) and abs(yi[first]) <= G_BOUND)
    value = f"a variance of {float(vi[first])!r}" if g_usable else f"g = {float(yi[first])!r}"
    others = f" and {bad.size - 1} more" if bad.size > 1 else ""
    return (
        f"effect size {int(ids[first])}{others} has {value}, which is not a finite number within the "
        "bounds every effect size keeps; it needs correcting"
    )


def _by_cell(codes: Any) -> list[tuple[int, Any]]:
    """Each cell code with its rows (indices into `codes`, which is sorted)."""
    cells, starts = np.unique(codes, return_index=True)
    ends = np.append(starts[1:], codes.size)
    return [(int(c), np.arange(a, b)) for c, a, b in zip(cells.tolist(), starts.tolist(), ends.tolist(), strict=True)]


def _pool(evidence_map: EvidenceMap, codes: Any, clusters: Any, yi: Any, vi: Any) -> tuple[dict[Hashable, Any], dict[Hashable, str]]:
    not_pooled: dict[Hashable, str] = {}
    results = pool_cells_clustered(
        yi, vi, codes, clusters,
        rho=evidence_map.within_study_correlation,
        method=evidence_map.pooling_method, test=evidence_map.pooling_test,
        errors=not_pooled,
    )
    return results, not_pooled


def _pool_isolated(
    evidence_map: EvidenceMap, codes: Any, clusters: Any, yi: Any, vi: Any
) -> tuple[dict[Hashable, Any], dict[Hashable, str]]:
    """All cells in one batch; should the batch fail, each cell alone, so that a numerical
    failure stays with its cell (not pooled, with the reason) and is logged."""
    try:
        return _pool(evidence_map, codes, clusters, yi, vi)
    except Exception:
        logger.exception("Map %s: pooling the cells together failed; pooling them one by one", evidence_map.slug)
    results: dict[Hashable, Any] = {}
    reasons: dict[Hashable, str] = {}
    for code, rows in _by_cell(codes):
        try:
            one, not_pooled = _pool(evidence_map, codes[rows], clusters[rows], yi[rows], vi[rows])
        except Exception as error:
            logger.exception("Map %s: cell %d could not be pooled", evidence_map.slug, code)
            reasons[code] = f"a numerical error stopped its pooling ({type(error).__name__})"
            continue
        results.update(one)
        reasons.update(not_pooled)
    return results, reasons


def _egger(yi: Any, vi: Any, codes: Any) -> dict[int, float]:
    # The labels of an integer array come back as Python ints.
    return {cast(int, code): result.p_value for code, result in egger_tests(yi, vi, codes).items()}


def _egger_isolated(evidence_map: EvidenceMap, codes: Any, yi: Any, vi: Any) -> dict[int, float]:
    """Egger's p of every cell with enough effect sizes, batched, and cell by cell should the
    batch fail; a cell it cannot test (e.g. equal sampling variances: no predictor) has none."""
    eligible = np.bincount(codes)[codes] >= evidence_map.egger_min_k
    if not eligible.any():
        return {}
    codes, yi, vi = codes[eligible], yi[eligible], vi[eligible]
    try:
        return _egger(yi, vi, codes)
    except Exception:
        logger.exception("Map %s: Egger's tests together failed; testing the cells one by one", evidence_map.slug)
    egger_p: dict[int, float] = {}
    for code, rows in _by_cell(codes):
        try:
            egger_p.update(_egger(yi[rows], vi[rows], codes[rows]))
        except Exception:
            logger.exception("Map %s: Egger's test of cell %d failed", evidence_map.slug, code)
    return egger_p


def _fit(evidence_map: EvidenceMap, codes: Any, clusters: Any, yi: Any, vi: Any, ids: Any) -> dict[int, _Fit]:
    """Pool and test the cells of these rows (codes: the cell of each row, sorted). A cell
    holding an unusable row is set aside first, as not pooled with the reason."""
    unusable = _unusable(yi, vi)
    bad_cells = np.unique(codes[unusable]).tolist()
    reasons: dict[Hashable, str] = {
        code: _bad_value_reason(yi[rows], vi[rows], ids[rows]) for code, rows in _by_cell(codes) if code in bad_cells
    }
    if reasons:
        logger.warning(
            "Map %s: %d cell(s) not pooled for effect sizes outside the bounds (ids %s)",
            evidence_map.slug, len(reasons), sorted(set(ids[unusable].tolist()))[:20],
        )
    keep = ~np.isin(codes, bad_cells)
    codes, clusters, yi, vi = codes[keep], clusters[keep], yi[keep], vi[keep]
    results: dict[Hashable, Any] = {}
    egger_p: dict[int, float] = {}
    if codes.size:
        results, not_pooled = _pool_isolated(evidence_map, codes, clusters, yi, vi)
        reasons.update(not_pooled)
        egger_p = _egger_isolated(evidence_map, codes, yi, vi)
    return {
        code: _Fit(cast(ClusteredResult | None, results.get(code)), reasons.get(code, ""), egger_p.get(code))
        for code in sorted({*np.unique(codes).tolist(), *bad_cells})
    }


def pool_rows(evidence_map: EvidenceMap, rows: EffectRows) -> Pooled:
    """Pooled effect (the map's model and test) and Egger's p of every cell in `rows`, each
    cell fitted only if the shared cache does not hold it already."""
    pooled = Pooled()
    codes = np.asarray(rows.codes, dtype=np.int64)
    if not codes.size:
        return pooled
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    yi = np.ascontiguousarray(np.asarray(rows.yi, dtype=np.float64)[order])
    vi = np.ascontiguousarray(np.asarray(rows.vi, dtype=np.float64)[order])
    clusters = np.ascontiguousarray(np.asarray(rows.clusters, dtype=np.int64)[order])
    ids = np.asarray(rows.ids, dtype=np.int64)[order]
    cells, starts = np.unique(codes, return_index=True)
    bounds = np.append(starts, codes.size).astype(np.int64)
    keys = _digests(_settings(evidence_map), yi, vi, clusters, bounds)
    found: dict[str, _Fit] = shared_cache.get_many(keys)
    missing = [n for n, key in enumerate(keys) if key not in found]
    if missing:
        rows_missing = np.concatenate([np.arange(bounds[n], bounds[n + 1]) for n in missing])
        fits = _fit(
            evidence_map, codes[rows_missing], clusters[rows_missing], yi[rows_missing], vi[rows_missing],
            ids[rows_missing],
        )
        fresh = {keys[n]: fits[int(cells[n])] for n in missing}
        shared_cache.set_many(fresh, FIT_SECONDS)
        found.update(fresh)
        pooled.fitted = len(missing)
    for n, code in enumerate(cells.tolist()):
        fit = found[keys[n]]
        if fit.result is not None:
            pooled.results[code] = fit.result
        if fit.reason:
            pooled.not_pooled[code] = fit.reason
        if fit.egger_p is not None:
            pooled.egger_p[code] = fit.egger_p
    return pooled


def plain_reason(message: str) -> str:
    """The engine's reason for not pooling a cell, in words for the cell page."""
    if not message:
        return ""
    if "single cluster" in message:
        return "all its effect sizes come from one study, and a pooled effect needs at least two"
    return message.partition(": ")[2] or message
