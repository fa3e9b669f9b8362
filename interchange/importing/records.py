"""A map as a file brings it, whatever the file's format: framework, code sets, studies, their
coding and effect sizes, keyed by the source's identifiers.

Readers (EPPI-Reviewer JSON here; spreadsheets and RIS later) turn a file into a `MapRecord`
and report what they could not read; the planner compares a `MapRecord` with the map and the
writer applies it. Nothing here touches the database.

Keys are the source's identifiers as text (EPPI-Reviewer's AttributeId, ItemId, OutcomeId...):
they become the `external_id` of the rows written, and a second import finds its rows by
them. Within one `MapRecord` a key names one thing: the codes of all code sets share one key
space, and so do the rows, the columns, the studies and the effect sizes (each its own).
`ref` says in the file's words where a record is ("ItemId 4012", "row 17"), for messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeRecord:
    """A node of a tree: a framework row or column, or a code of a code set."""

    key: str
    name: str
    ref: str
    description: str = ""
    children: list[NodeRecord] = field(default_factory=list)


def walk(nodes: list[NodeRecord], parent: NodeRecord | None = None) -> Iterator[tuple[NodeRecord, NodeRecord | None, int]]:
    """Every node of a forest, parents before children: (node, its parent, its position)."""
    for position, node in enumerate(nodes):
        yield node, parent, position
        yield from walk(node.children, node)


@dataclass
class CodeSetRecord:
    key: str
    name: str
    ref: str
    description: str = ""
    codes: list[NodeRecord] = field(default_factory=list)


@dataclass
class StudyRecord:
    """A study: `fields` are the model's fields the source gives (compared with the map's and
    written when they differ), `defaults` fields written only when the study is created (a
    design or a status the source does not give), `labels` what the source calls each field."""

    key: str
    ref: str
    fields: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)
    interventions: set[str] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    # Another key to find the study by when its key is new to the map: its DOI (normalised).
    doi: str = ""


@dataclass
class EffectRecord:
    """An effect size of study `study` in the cell (`intervention`, `outcome`): `fields` holds
    label, input_kind, notes and every input field of the registry (None where unused), so an
    update that changes the input kind clears what the old one read."""

    key: str
    ref: str
    study: str
    intervention: str
    outcome: str
    fields: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class MapRecord:
    source: str  # what the file is, for the report ("EPPI-Reviewer JSON, 120 references")
    interventions: list[NodeRecord] = field(default_factory=list)
    outcomes: list[NodeRecord] = field(default_factory=list)
    code_sets: list[CodeSetRecord] = field(default_factory=list)
    studies: list[StudyRecord] = field(default_factory=list)
    effects: list[EffectRecord] = field(default_factory=list)
    segment_code_set: str | None = None  # key of the code set that segments the bubbles
    filter_code_sets: set[str] = field(default_factory=set)  # keys of the code sets offered as filters
    # False for a file that adds to a map (RIS citations) rather than describing all of it: the
    # map's records that the file lacks are then not listed as missing.
    whole_map: bool = True
