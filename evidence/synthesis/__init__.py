"""Evidence per map cell: membership (which studies and effect sizes fall in which cell),
pooling (the statistics engine over every cell at once), the cells with their labels and
confidence, and the one presenter that turns a cell into what readers are told."""

from evidence.synthesis.cells import Cell, MapEvidence, map_evidence
from evidence.synthesis.membership import CellKey, filtered_studies
from evidence.synthesis.presenter import CellView, cell_record, compact_cell, present_cell

__all__ = [
    "Cell",
    "CellKey",
    "CellView",
    "MapEvidence",
    "cell_record",
    "compact_cell",
    "filtered_studies",
    "map_evidence",
    "present_cell",
]
