"""Which studies and effect sizes fall in which cell of a map, aggregate cells included.

Reads a fixed number of queries whatever the map's size (the two framework trees, the
filtered published studies, their two codings, their effect sizes) and computes no
statistics: pooling is evidence.synthesis.pooling's.

Direction harmonisation happens here too, the one place where a cell's inputs are gathered:
in a cell whose column is a category of outcomes (it pools outcomes other than its own), every
effect size is oriented so that positive means better, i.e. effect sizes on an outcome where
lower is better are reversed (`EffectRows.reversed`). A leaf column pools its own outcome
only, and its effect sizes keep the sign they were reported with. The pooled fits are cached
under a digest of the oriented values, so orientation is part of what a fit is keyed by.

Membership is computed with arrays, not per cell: each coding and each effect size is
expanded to the ancestors of its row and column (a study coded with a leaf counts in every
aggregate above it), the (cell, study) and (cell, effect size) pairs are sorted once, and a
cell is a slice of them. Cost grows with the number of pairs, not with cells × pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet

from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.selectors import Node, framework_tree
from studies.models import EffectSize, Study

CellKey = tuple[int, int]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class EffectRows:
    """Every (cell, effect size) pair as parallel columns, ready for the batched pooling:
    sorted by cell, then effect size id (so a cell's rows, and its pooled result, never
    depend on the order the database returned them in). `yi` is oriented for the cell: the
    reported g, reversed where `reversed` is set."""

    codes: IntArray  # the cell's index in Membership.keys
    clusters: IntArray  # study ids
    yi: FloatArray
    vi: FloatArray
    ids: IntArray  # effect size ids
    outcomes: IntArray  # the outcome each effect size is coded with
    reversed: BoolArray  # True where yi is the reported g reversed (see `orientation`)

    @classmethod
    def empty(cls) -> EffectRows:
        none = np.zeros(0, dtype=np.int64)
        return cls(
            codes=none, clusters=none, yi=np.zeros(0), vi=np.zeros(0), ids=none, outcomes=none,
            reversed=np.zeros(0, dtype=bool),
        )


@dataclass
class Membership:
    """The cells of a map that hold studies, each a slice of the sorted pair arrays."""

    interventions: dict[int, Node]
    outcomes: dict[int, Node]
    keys: list[CellKey]  # cell index -> (intervention id, outcome id)
    n_studies: int  # studies that pass the filters
    n_effects: int  # their effect sizes
    # (cell, study) pairs sorted by cell then study id; the study's attributes per pair.
    pair_studies: IntArray
    study_bounds: IntArray  # cell c's pairs are [study_bounds[c], study_bounds[c + 1])
    pair_design: IntArray  # index into `designs`
    pair_confidence: IntArray  # index into `confidences` ("" is unrated)
    pair_region: IntArray  # index into `regions` ("" is unknown)
    designs: list[str]
    confidences: list[str]
    regions: list[str]
    rows: EffectRows
    effect_bounds: IntArray  # cell c's effect rows are [effect_bounds[c], effect_bounds[c + 1])

    def cell_index(self) -> dict[CellKey, int]:
        return {key: c for c, key in enumerate(self.keys)}


def filtered_studies(evidence_map: EvidenceMap, filters: StudyFilters) -> Any:
    """The map's published studies that pass the filters: what every pooled number rests on."""
    return filters.apply(Study.objects.published().filter(evidence_map=evidence_map))


def _fetch(query: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a values_list query, read with the database cursor directly: the ORM's
    per-row conversion costs more than the query for 100,000 rows of plain numbers."""
    try:
        sql, params = _compiled(query)
    except EmptyResultSet:  # a filter that nothing can pass, such as "in no nodes"
        return []
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _compiled(query: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The query's SQL for the database it reads (a release is read from SQLite whatever the
    primary is; `sql_with_params()` would compile for the primary)."""
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    return sql, tuple(params)


def _column(rows: list[tuple[Any, ...]], i: int, dtype: Any) -> npt.NDArray[Any]:
    return np.fromiter((r[i] for r in rows), dtype=dtype, count=len(rows))


# Element types of the binary arrays PostgreSQL sends: big-endian int8 and float8.
_PG_TYPES = {"i": ("int8", ">i8", np.int64), "f": ("float8", ">f8", np.float64)}


def _columns(query: QuerySet[Any], kinds: str) -> list[npt.NDArray[Any]]:
    """The columns of a values_list query of numbers ("i": integer, "f": float, one letter
    per column, none NULL) as arrays.

    On PostgreSQL each column comes back as one array in PostgreSQL's binary format
    (`COPY ... (FORMAT BINARY)` of `array_agg`), which numpy reads without a Python object
    per value: for 100,000 effect sizes this takes a third of the time of fetching rows.
    Elsewhere the rows are fetched and converted.
    """
    connection = connections[query.db]
    if connection.vendor != "postgresql":
        rows = _fetch(query)
        return [_column(rows, i, _PG_TYPES[kind][2]) for i, kind in enumerate(kinds)]
    try:
        sql, params = _compiled(query)
    except EmptyResultSet:
        return [np.zeros(0, dtype=_PG_TYPES[kind][2]) for kind in kinds]
    names = [f"c{i}" for i in range(len(kinds))]
    aggregates = ", ".join(f"array_agg(q.{n}::{_PG_TYPES[k][0]})" for n, k in zip(names, kinds, strict=True))
    copy_sql = f"COPY (SELECT {aggregates} FROM ({sql}) AS q({', '.join(names)})) TO STDOUT (FORMAT BINARY)"
    start = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql, params) as copy:
        data = b"".join(bytes(block) for block in copy)
    if connection.queries_logged:
        # COPY goes past Django's cursor wrapper: log it as the wrapper logs a query, so
        # that query counts (tests, the debug log) still see it.
        connection.queries_log.append({"sql": f"{copy_sql} -- params {params!r}",
                                       "time": f"{time.monotonic() - start:.3f}"})
    return _binary_arrays(data, kinds)


def _binary_arrays(data: bytes, kinds: str) -> list[npt.NDArray[Any]]:
    """Read the one row of one-dimensional arrays without NULLs that `_columns` asks for."""
    if data[:11] != b"PGCOPY\n\xff\r\n\x00":
        raise ValueError("not PostgreSQL's binary COPY format")
    position = 19 + int.from_bytes(data[15:19], "big")  # after the header and its extension
    if int.from_bytes(data[position : position + 2], "big") != len(kinds):
        raise ValueError("unexpected number of columns in the COPY data")
    position += 2
    out: list[npt.NDArray[Any]] = []
    for kind in kinds:
        _, wire, dtype = _PG_TYPES[kind]
        length = int.from_bytes(data[position : position + 4], "big", signed=True)
        position += 4
        if length < 0:  # array_agg of no rows is NULL
            out.append(np.zeros(0, dtype=dtype))
            continue
        field = data[position : position + length]
        position += length
        dims, has_nulls = int.from_bytes(field[0:4], "big"), int.from_bytes(field[4:8], "big")
        if dims != 1 or has_nulls:
            raise ValueError("expected a one-dimensional array without NULLs")
        count = int.from_bytes(field[12:16], "big")
        # Each element: its length (int32), then the value.
        elements = np.frombuffer(field, dtype=np.dtype([("length", ">i4"), ("value", wire)]), offset=20, count=count)
        out.append(elements["value"].astype(dtype))
    return out


def _codes(values: list[str]) -> tuple[IntArray, list[str]]:
    names = sorted(set(values))
    lookup = {name: n for n, name in enumerate(names)}
    return np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values)), names


@dataclass
class _Tree:
    """A framework tree as arrays: dense index of each node id, and its ancestors."""

    ids: IntArray  # dense index -> node id (display order)
    lookup: IntArray  # node id -> dense index, -1 when not a node of this map
    start: IntArray  # node's ancestors are flat[start[n]:start[n] + count[n]]
    count: IntArray
    flat: IntArray

    @classmethod
    def of(cls, nodes: dict[int, Node]) -> _Tree:
        ids = np.fromiter(nodes, dtype=np.int64, count=len(nodes))
        lookup = np.full(int(ids.max()) + 1 if ids.size else 1, -1, dtype=np.int64)
        lookup[ids] = np.arange(ids.size)
        count = np.fromiter((len(n.ancestors) for n in nodes.values()), dtype=np.int64, count=len(nodes))
        flat = np.fromiter(
            (int(lookup[a]) for n in nodes.values() for a in n.ancestors), dtype=np.int64, count=int(count.sum())
        )
        start = np.cumsum(count) - count
        return cls(ids=ids, lookup=lookup, start=start, count=count, flat=flat)

    def index(self, node_ids: IntArray) -> IntArray:
        """Dense indices of node ids; -1 for ids that are not nodes of this map."""
        inside = (node_ids >= 0) & (node_ids < self.lookup.size)
        out = np.full(node_ids.size, -1, dtype=np.int64)
        out[inside] = self.lookup[node_ids[inside]]
        return out

    def ancestors(self, nodes: IntArray) -> tuple[IntArray, IntArray]:
        """(which input, ancestor index) for every ancestor of every input node."""
        return _expand(self.count[nodes], self.start[nodes], self.flat)


def _expand(counts: IntArray, starts: IntArray, flat: IntArray) -> tuple[IntArray, IntArray]:
    """For input i, the entries flat[starts[i]:starts[i] + counts[i]]: (i repeated, entry)."""
    which = np.repeat(np.arange(counts.size), counts)
    offsets = np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, flat[starts[which] + offsets]


def orientation(outcomes: dict[int, Node]) -> tuple[BoolArray, BoolArray]:
    """Per outcome, in the tree's order: whether a cell of its column is on the "positive means
    better" scale (the column is a category: it pools other outcomes than its own), and
    whether an effect size on it is reversed to get there (lower is better)."""
    pooled_across = np.fromiter((bool(n.children) for n in outcomes.values()), dtype=bool, count=len(outcomes))
    lower = np.fromiter((not n.higher_is_better for n in outcomes.values()), dtype=bool, count=len(outcomes))
    return pooled_across, lower


def _unique_pairs(first: IntArray, second: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """Distinct (first, second) pairs, sorted by first then second (second < size)."""
    joined = np.unique(first * size + second)
    return joined // size, joined % size


def membership_queries(
    evidence_map: EvidenceMap, filters: StudyFilters, interventions: dict[int, Node], outcomes: dict[int, Node],
    *, only: CellKey | None = None,
) -> dict[str, QuerySet[Any]]:
    """The queries the membership reads, by name (bench/explain.py prints their plans)."""
    studies = filtered_studies(evidence_map, filters).order_by()
    effects = EffectSize.objects.order_by()
    if only is not None:
        # One cell costs one cell: read only the studies and effect sizes of its subtree.
        rows_below = [n for n, node in interventions.items() if only[0] in node.ancestors]
        cols_below = [n for n, node in outcomes.items() if only[1] in node.ancestors]
        studies = studies.filter(
            pk__in=Study.interventions.through.objects.filter(intervention_id__in=rows_below).values("study_id")
        ).filter(pk__in=Study.outcomes.through.objects.filter(outcome_id__in=cols_below).values("study_id"))
        effects = effects.filter(intervention_id__in=rows_below, outcome_id__in=cols_below)
    ids = studies.values("id")
    return {
        "studies": studies.values_list("id", "design", "confidence", "region"),
        "intervention codings": Study.interventions.through.objects.filter(study_id__in=ids).order_by().values_list(
            "study_id", "intervention_id"
        ),
        "outcome codings": Study.outcomes.through.objects.filter(study_id__in=ids).order_by().values_list(
            "study_id", "outcome_id"
        ),
        "effect sizes": effects.filter(study_id__in=ids).values_list(
            "id", "study_id", "intervention_id", "outcome_id", "g", "var_g"
        ),
    }


def map_membership(evidence_map: EvidenceMap, filters: StudyFilters, *, only: CellKey | None = None) -> Membership:
    """Cell membership of the whole map (or of the cell `only`).

    A study sits in a cell when it is coded with the row and the column or their
    descendants; each effect size counts in its own cell and in every aggregate cell above
    (and puts its study there). Queries: interventions, outcomes, studies, the two codings,
    effect sizes.
    """
    interventions = framework_tree(Intervention, evidence_map)
    outcomes = framework_tree(Outcome, evidence_map)
    queries = membership_queries(evidence_map, filters, interventions, outcomes, only=only)
    study_rows = sorted(_fetch(queries["studies"]))
    coded_i = _columns(queries["intervention codings"], "ii")
    coded_o = _columns(queries["outcome codings"], "ii")
    effects = _columns(queries["effect sizes"], "iiiiff")

    rows, cols = _Tree.of(interventions), _Tree.of(outcomes)
    n_cols = max(cols.ids.size, 1)
    study_ids = _column(study_rows, 0, np.int64)
    n_s = max(study_ids.size, 1)

    def dense(ids_of: IntArray) -> IntArray:
        """Dense study index (position in study_ids) of study ids known to be in it."""
        return np.searchsorted(study_ids, ids_of).astype(np.int64)

    # Codings, expanded to ancestors: distinct (study, row) and (study, column) pairs.
    def coded(pairs: list[npt.NDArray[Any]], tree: _Tree) -> tuple[IntArray, IntArray]:
        node = tree.index(pairs[1])
        keep = node >= 0
        study = dense(pairs[0][keep])
        which, anc = tree.ancestors(node[keep])
        return _unique_pairs(study[which], anc, max(tree.ids.size, 1))

    row_study, row_node = coded(coded_i, rows)
    col_study, col_node = coded(coded_o, cols)
    # Every (row, column) of a study: cross its rows with its columns.
    col_count = np.bincount(col_study, minlength=n_s)
    col_start = np.cumsum(col_count) - col_count
    which, col_of = _expand(col_count[row_study], col_start[row_study], col_node)
    cell_of_coding = row_node[which] * n_cols + col_of
    study_of_coding = row_study[which]

    # Effect sizes, sorted by id, each in its cell and every aggregate above.
    order = np.argsort(effects[0], kind="stable")
    es_id, es_study, es_row, es_col, es_g, es_v = (column[order] for column in effects)
    es_study, es_row, es_col = dense(es_study), rows.index(es_row), cols.index(es_col)
    on_map = (es_row >= 0) & (es_col >= 0)
    placed = np.flatnonzero(on_map)
    which_r, anc_r = rows.ancestors(es_row[placed])
    which_c, anc_c = cols.ancestors(es_col[placed[which_r]])
    es_rows = placed[which_r[which_c]]  # effect size (position) of each expanded row
    es_cell = anc_r[which_c] * n_cols + anc_c
    # Orientation of each (cell, effect size) row: reversed in a category column when lower
    # is better for the effect size's own outcome.
    pooled_across, lower = orientation(outcomes)
    es_reversed = pooled_across[anc_c] & lower[es_col[es_rows]]

    cell_code_all = np.concatenate([cell_of_coding, es_cell])
    study_all = np.concatenate([study_of_coding, es_study[es_rows]])
    if only is not None:
        wanted = int(rows.lookup[only[0]]) * n_cols + int(cols.lookup[only[1]]) if (
            only[0] in interventions and only[1] in outcomes
        ) else -1
        keep_pairs = cell_code_all == wanted
        cell_code_all, study_all = cell_code_all[keep_pairs], study_all[keep_pairs]
        keep_es = es_cell == wanted
        es_rows, es_cell, es_reversed = es_rows[keep_es], es_cell[keep_es], es_reversed[keep_es]
    pair_cell, pair_study = _unique_pairs(cell_code_all, study_all, n_s)
    cell_codes, study_bounds = np.unique(pair_cell, return_index=True)
    study_bounds = np.append(study_bounds, pair_cell.size).astype(np.int64)
    keys = [(int(rows.ids[c // n_cols]), int(cols.ids[c % n_cols])) for c in cell_codes.tolist()]

    # Effect rows by cell index, then effect size id (es_rows is in id order within a cell).
    es_cell_index = np.searchsorted(cell_codes, es_cell).astype(np.int64)
    by_cell = np.argsort(es_cell_index, kind="stable")
    es_rows, es_cell_index, es_reversed = es_rows[by_cell], es_cell_index[by_cell], es_reversed[by_cell]
    effect_bounds = np.searchsorted(es_cell_index, np.arange(len(keys) + 1)).astype(np.int64)

    design_of, design_names = _codes([r[1] for r in study_rows])
    confidence_of, confidence_names = _codes([r[2] or "" for r in study_rows])
    region_of, region_names = _codes([r[3] or "" for r in study_rows])
    return Membership(
        interventions=interventions,
        outcomes=outcomes,
        keys=keys,
        n_studies=len(study_rows),
        n_effects=int(es_id.size),
        pair_studies=study_ids[pair_study],
        study_bounds=study_bounds,
        pair_design=design_of[pair_study],
        pair_confidence=confidence_of[pair_study],
        pair_region=region_of[pair_study],
        designs=design_names,
        confidences=confidence_names,
        regions=region_names,
        rows=EffectRows(
            codes=es_cell_index,
            clusters=study_ids[es_study[es_rows]],
            yi=np.where(es_reversed, -es_g[es_rows], es_g[es_rows]),
            vi=es_v[es_rows],
            ids=es_id[es_rows],
            outcomes=cols.ids[es_col[es_rows]],
            reversed=es_reversed,
        ),
        effect_bounds=effect_bounds,
    )
