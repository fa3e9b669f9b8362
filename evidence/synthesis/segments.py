"""Segments of a map's bubbles by a code set: by default its segmenting code set
(EvidenceMap.segment_code_set); a reader may choose any set the map offers (`segment_choices`).

Each top-level code of the set is a segment, standing for itself and every code below it; a
cell counts its studies per segment (a study coded in several segments counts in each) and
the studies coded with none of the set's codes. Without a segmenting code set the map is
segmented by study design, which the cells already count (Cell.designs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from evidence.models import Code, CodeSet
from evidence.synthesis.cells import Cell, MapEvidence
from studies.models import Study


@dataclass(frozen=True)
class Segments:
    code_set_id: int
    code_set: str  # its name
    codes: tuple[tuple[int, str], ...]  # the top-level codes (id, name), in order
    study_segments: dict[int, frozenset[int]]  # study id -> indexes into `codes`

    def counts(self, cell: Cell) -> list[int]:
        """The cell's studies per segment, in the order of `codes`, then those not coded."""
        counts = [0] * (len(self.codes) + 1)
        uncoded = len(self.codes)
        for study_id in cell.study_ids:
            found = self.study_segments.get(study_id)
            if not found:
                counts[uncoded] += 1
                continue
            for index in found:
                counts[index] += 1
        return counts


# Segment by the map's own segmenting code set (the default of `map_segments`).
MAP_DEFAULT = -1


def map_segments(evidence: MapEvidence, code_set_id: int | None = MAP_DEFAULT) -> Segments | None:
    """The segments of the map's cells by `code_set_id` (by default the map's segmenting code
    set), or None when the map segments by study design (`code_set_id` None, or the map has no
    segmenting set).

    Queries: the set's codes (with the set's name), then the set's codings.
    """
    if code_set_id == MAP_DEFAULT:
        code_set_id = evidence.evidence_map.segment_code_set_id
    if code_set_id is None:
        return None
    rows = list(
        Code.objects.filter(code_set_id=code_set_id)
        .order_by("position", "name", "pk")
        .values_list("pk", "parent_id", "name", "code_set__name")
    )
    if rows:
        name = rows[0][3]
    else:  # a set without codes: every study is "not coded"
        name = CodeSet.objects.filter(pk=code_set_id).values_list("name", flat=True).first() or ""
    top_level = [(pk, code) for pk, parent, code, _ in rows if parent is None]
    segment_of = _segment_of({pk: parent for pk, parent, _, _ in rows}, [pk for pk, _ in top_level])
    # Every coding of the set: the cells' studies are looked up in it (drafts' codings are
    # never looked up), so the filters need not run a second time.
    found: dict[int, set[int]] = defaultdict(set)
    codings = Study.codes.through.objects.filter(code__code_set_id=code_set_id).values_list("study_id", "code_id")
    for study_id, code_id in codings:
        index = segment_of.get(code_id)
        if index is not None:
            found[study_id].add(index)
    return Segments(
        code_set_id=code_set_id, code_set=name, codes=tuple(top_level),
        study_segments={study_id: frozenset(indexes) for study_id, indexes in found.items()},
    )


def _segment_of(parent_of: dict[int, int | None], top_level: list[int]) -> dict[int, int]:
    """Code id -> the index of its top-level ancestor among `top_level`."""
    index_of = {pk: i for i, pk in enumerate(top_level)}
    out: dict[int, int] = {}
    for pk in parent_of:
        path: list[int] = []
        seen: set[int] = set()
        node: int | None = pk
        while node is not None and node not in out and node not in seen:
            seen.add(node)
            path.append(node)
            node = parent_of.get(node)
        index = out.get(node) if node is not None else index_of.get(path[-1])
        if index is None:
            continue  # a loop or a missing parent: no segment
        for code in path:
            out[code] = index
    return out
