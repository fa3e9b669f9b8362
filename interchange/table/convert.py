"""A spreadsheet's sheets as a `MapRecord`, with the map's own rows, columns and code sets to
resolve the names the sheets use.

Rows, columns and codes are named in the sheets by their name path ("Health > Nutrition").
Their records are the map's trees (read by `map_trees`), with the lines of the optional sheets
"Rows and columns" and "Code sets" added: a node's key is its external id, or its name path
when it has none (which the import then stores as its external id). What a spreadsheet
manages follows from its columns: the rows of the map's studies when the Studies sheet has a
Rows column (likewise Columns), codings when there is a Codes sheet, effect sizes when there
is an Effect sizes sheet. What the file does not have is left as it is.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Model

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.eppi.convert import clean_authors, clean_doi, clean_url
from interchange.importing.records import (
    CodeSetRecord,
    EffectRecord,
    MapRecord,
    NodeRecord,
    StudyRecord,
)
from interchange.importing.report import Report, plural
from interchange.importing.vocabulary import country_for, design_for, is_global
from interchange.table.layout import (
    CODE_SETS,
    CODES,
    EFFECT_SIZES,
    FRAMEWORK,
    LIST_SEPARATOR,
    PATH_SEPARATOR,
    STUDIES,
)
from interchange.table.read import Line, Table, Value
from studies.effect_sizes.registry import (
    INPUT_FIELDS,
    INPUT_KIND_SPECS,
    INTEGER_INPUTS,
    accepted_fields,
)
from studies.models import Confidence, Status, StudyDesign

KEY_MAX = 64  # the external_id columns
_YEAR = re.compile(r"^\d{4}$")


def path_key(*parts: str) -> str:
    """A node's key from its name path, short enough for an external id."""
    text = PATH_SEPARATOR.join(parts)
    if len(text) <= KEY_MAX:
        return text
    return "path:" + hashlib.sha1(text.encode()).hexdigest()[:32]


def split_path(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(PATH_SEPARATOR.strip()) if part.strip())


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


@dataclass
class Tree:
    """A forest of nodes with each node's name path."""

    roots: list[NodeRecord] = field(default_factory=list)
    by_path: dict[tuple[str, ...], NodeRecord] = field(default_factory=dict)

    def add(self, path: tuple[str, ...], node: NodeRecord) -> None:
        parent = self.by_path.get(path[:-1]) if len(path) > 1 else None
        (parent.children if parent is not None else self.roots).append(node)
        self.by_path[path] = node


@dataclass
class CodeSetTree:
    record: CodeSetRecord
    tree: Tree
    is_filter: bool = False


@dataclass
class MapTrees:
    """The map's rows, columns and code sets as records, keyed as an import keys them."""

    interventions: Tree = field(default_factory=Tree)
    outcomes: Tree = field(default_factory=Tree)
    code_sets: dict[str, CodeSetTree] = field(default_factory=dict)  # by name


def _tree(rows: list[Model], ref: str, key_prefix: tuple[str, ...] = ()) -> Tree:
    """Rows of one tree (framework nodes or codes), ordered, as a `Tree`."""
    children: dict[int | None, list[Model]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)  # type: ignore[attr-defined]
    tree = Tree()

    def add(parent: int | None, path: tuple[str, ...]) -> None:
        for row in children.get(parent, []):
            name: str = row.name  # type: ignore[attr-defined]
            here = (*path, name)
            key = row.external_id or path_key(*key_prefix, *here)  # type: ignore[attr-defined]
            tree.add(here, NodeRecord(key=key, name=name, ref=f"{ref} “{PATH_SEPARATOR.join(here)}”",
                                      description=row.description))  # type: ignore[attr-defined]
            add(row.pk, here)

    add(None, ())
    return tree


def map_trees(slug: str) -> MapTrees:
    """The rows, columns and code sets of the map `slug` (empty when there is none): four queries."""
    evidence_map = EvidenceMap.objects.filter(slug=slug).first()
    if evidence_map is None:
        return MapTrees()
    trees = MapTrees(
        interventions=_tree(list(Intervention.objects.filter(evidence_map=evidence_map)), "row"),
        outcomes=_tree(list(Outcome.objects.filter(evidence_map=evidence_map)), "column"),
    )
    codes = list(Code.objects.filter(code_set__evidence_map=evidence_map))
    for code_set in CodeSet.objects.filter(evidence_map=evidence_map):
        tree = _tree([c for c in codes if c.code_set_id == code_set.pk], "code", (code_set.name,))
        trees.code_sets[code_set.name] = CodeSetTree(
            CodeSetRecord(key=code_set.external_id or path_key("code set", code_set.name), name=code_set.name,
                          ref=f"code set “{code_set.name}”", description=code_set.description, codes=tree.roots),
            tree, is_filter=code_set.is_filter,
        )
    return trees


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _one_line(value: Value) -> str:
    return " ".join(_text(value).split())


def _where(table: Table, line: Line) -> str:
    return f"{table.sheet.name} sheet, row {line.number}"


def _choice(text: str, choices: list[tuple[str, str]]) -> str | None:
    key = text.casefold()
    for value, label in choices:
        if key in (str(value).casefold(), str(label).casefold()):
            return str(value)
    return None


class _Converter:
    def __init__(self, tables: dict[str, Table], trees: MapTrees, report: Report, *, source: str) -> None:
        self.tables = tables
        self.trees = trees
        self.report = report
        self.source = source

    # -- rows, columns and code sets ---------------------------------------------------

    def framework(self) -> None:
        table = self.tables.get(FRAMEWORK.name)
        if table is None:
            return
        for line in table.lines:
            where = _where(table, line)
            kind = _text(line.values.get("kind")).casefold()
            tree, what = {"row": (self.trees.interventions, "row"), "column": (self.trees.outcomes, "column")}.get(
                kind, (None, ""))
            if tree is None:
                self.report.error("bad_value", where, table.label("kind"),
                                  f"“{_text(line.values.get('kind'))}” is neither “Row” nor “Column”")
                continue
            self._node_line(table, line, tree, what, (), line.values.get("path"), "path")

    def _node_line(self, table: Table, line: Line, tree: Tree, what: str, prefix: tuple[str, ...],
                   raw_path: Value, path_field: str) -> None:
        where = _where(table, line)
        path = split_path(_text(raw_path))
        if not path:
            self.report.error("bad_value", where, table.label(path_field), "is empty; give the name")
            return
        description = _text(line.values.get("description")) if table.has("description") else None
        external_id = _text(line.values.get("external_id"))
        node = tree.by_path.get(path)
        if node is not None:
            if external_id and node.key == path_key(*prefix, *path):
                node.key = external_id
            elif external_id and external_id != node.key:
                self.report.error("conflict", where, table.label("external_id"),
                                  f"is {external_id}, but the map's {what} “{PATH_SEPARATOR.join(path)}” has the "
                                  f"ID {node.key}")
            if description is not None:
                node.description = description
            return
        if len(path) > 1 and path[:-1] not in tree.by_path:
            self.report.error("framework", where, table.label(path_field),
                              f"the parent “{PATH_SEPARATOR.join(path[:-1])}” is neither a {what} of the map nor on "
                              "a line above")
            return
        tree.add(path, NodeRecord(key=external_id or path_key(*prefix, *path), name=path[-1],
                                  ref=f"{where} ({what} “{PATH_SEPARATOR.join(path)}”)", description=description or ""))

    def code_sets(self) -> tuple[str | None, set[str]]:
        """Lines of the Code sets sheet: new sets and codes; the segmenting set and the filters."""
        table = self.tables.get(CODE_SETS.name)
        segment: str | None = None
        filters: set[str] = set()
        if table is None:
            return None, filters
        segment_line = 0
        for line in table.lines:
            where = _where(table, line)
            name = _one_line(line.values.get("code_set"))
            if not name:
                self.report.error("bad_value", where, table.label("code_set"), "is empty; give the code set's name")
                continue
            code_set = self.trees.code_sets.get(name)
            path = _text(line.values.get("path"))
            if path:
                if code_set is None:
                    self.report.error("unknown_attribute", where, table.label("code_set"),
                                      f"“{name}” is not a code set of the map, nor on a line above")
                    continue
                self._node_line(table, line, code_set.tree, f"code of “{name}”", (name,), path, "path")
                code_set.record.codes = code_set.tree.roots
                continue
            external_id = _text(line.values.get("external_id"))
            if code_set is None:
                tree = Tree()
                code_set = CodeSetTree(CodeSetRecord(key=external_id or path_key("code set", name), name=name,
                                                     ref=f"{where} (code set “{name}”)"), tree)
                self.trees.code_sets[name] = code_set
            elif external_id and external_id != code_set.record.key:
                if code_set.record.key == path_key("code set", name):
                    code_set.record.key = external_id
                else:
                    self.report.error("conflict", where, table.label("external_id"),
                                      f"is {external_id}, but the map's code set “{name}” has the ID {code_set.record.key}")
            if table.has("description"):
                code_set.record.description = _text(line.values.get("description"))
            if self._yes(table, line, "is_filter"):
                filters.add(code_set.record.key)
            if self._yes(table, line, "segments"):
                if segment is not None:
                    self.report.error("conflict", where, table.label("segments"),
                                      f"only one code set segments the bubbles; row {segment_line} names another")
                segment, segment_line = code_set.record.key, line.number
        return segment, filters

    def _yes(self, table: Table, line: Line, name: str) -> bool:
        text = _text(line.values.get(name)).casefold()
        if text in ("", "no", "n", "false", "0"):
            return False
        if text in ("yes", "y", "true", "1", "x"):
            return True
        self.report.error("bad_value", _where(table, line), table.label(name), f"“{text}” is neither “yes” nor “no”")
        return False

    # -- studies -------------------------------------------------------------------------

    def studies(self, table: Table) -> list[StudyRecord]:
        records: list[StudyRecord] = []
        seen: dict[str, int] = {}
        labels = {name: table.label(name) for name in table.headers} | {
            c.name: c.header for c in STUDIES.columns if c.name not in table.headers
        }
        labels["is_global"] = labels["countries"]
        for line in table.lines:
            key = _text(line.values.get("external_id"))
            where = _where(table, line)
            if not key:
                self.report.error("bad_value", where, table.label("external_id"),
                                  "is empty; every study needs an ID, unique in the file")
                continue
            if len(key) > KEY_MAX:
                self.report.error("bad_value", where, table.label("external_id"), f"is longer than {KEY_MAX} characters")
                continue
            if key in seen:
                self.report.error("duplicate_id", where, table.label("external_id"),
                                  f"“{key}” is also the ID of row {seen[key]}; each study needs its own")
                continue
            seen[key] = line.number
            records.append(self.study(table, line, key, f"{where} (study {key})", labels))
        return records

    def study(self, table: Table, line: Line, key: str, ref: str, labels: dict[str, str]) -> StudyRecord:
        values, report = line.values, self.report
        fields: dict[str, object] = {}
        defaults: dict[str, object] = {"status": Status.DRAFT.value, "design": StudyDesign.OTHER.value}
        for name in ("title", "short_title", "source", "volume", "issue", "pages", "population"):
            if table.has(name):
                fields[name] = _one_line(values.get(name))
        if table.has("abstract"):
            fields["abstract"] = _text(values.get("abstract"))
        if table.has("keywords"):
            fields["keywords"] = "\n".join(split_list(_text(values.get("keywords"))))
        if table.has("authors"):
            fields["authors"], what = clean_authors(_text(values.get("authors")))
            if what:
                report.warning("cleaned", ref, labels["authors"], what)
        for name, clean in (("doi", clean_doi), ("url", clean_url)):
            if table.has(name):
                fields[name], what = clean(_text(values.get(name)))
                if what:
                    report.warning("cleaned", ref, labels[name], what)
        if table.has("year"):
            fields["year"] = self.year(values.get("year"), ref, labels["year"])
        if table.has("countries"):
            countries: list[str] = []
            fields["is_global"] = False
            for name in split_list(_text(values.get("countries"))):
                code = country_for(name)
                if code is not None:
                    countries.append(code)
                elif is_global(name):
                    fields["is_global"] = True
                else:
                    report.error("bad_value", ref, labels["countries"], f"“{name}” is not a country (a name or an ISO code)")
            fields["countries"] = sorted(set(countries))
        for name, choices, lookup in (
            ("design", StudyDesign.choices, design_for), ("confidence", Confidence.choices, None),
            ("status", Status.choices, None),
        ):
            if not table.has(name):
                continue
            text = _one_line(values.get(name))
            if not text:
                if name == "confidence":
                    fields[name] = ""
                continue
            found = _choice(text, choices) or (lookup(text) if lookup is not None else None)
            if found is None:
                report.error("bad_value", ref, labels[name], f"“{text}” is not a {labels[name].lower()} the map knows "
                             f"(one of: {', '.join(str(label) for _, label in choices)})")
            else:
                fields[name] = found
        if table.has("title") and not fields.get("title"):
            report.error("invalid", ref, labels["title"], "is empty; a study needs a title")
        if table.has("year") and fields.get("year") is None and _text(values.get("year")) == "":
            report.note("no_year", ref, labels["year"], "none given; the study is imported without one (cited as n.d.)")
        record = StudyRecord(key=key, ref=ref, fields=fields, defaults=defaults, labels=labels,
                             doi=str(fields.get("doi", "")))
        for name, tree, what in (("interventions", self.trees.interventions, "row"),
                                 ("outcomes", self.trees.outcomes, "column")):
            if table.has(name):
                keys = getattr(record, name)
                for text in split_list(_text(values.get(name))):
                    node = self.node(tree, text, what, ref, labels[name])
                    if node is not None:
                        keys.add(node.key)
        return record

    def year(self, value: Value, ref: str, label: str) -> int | None:
        text = _text(value)
        if not text:
            return None
        if _YEAR.match(text):
            return int(text)
        self.report.error("bad_value", ref, label, f"“{text}” is not a year (four digits, such as 2014)")
        return None

    def node(self, tree: Tree, text: str, what: str, ref: str, label: str) -> NodeRecord | None:
        node = tree.by_path.get(split_path(text))
        if node is None:
            self.report.error("framework", ref, label, f"“{text}” is not a {what} of the map"
                              + (" (a sub-row is written “Parent > Child”)" if PATH_SEPARATOR.strip() not in text else ""))
        return node

    # -- codings and effect sizes ---------------------------------------------------------

    def codings(self, table: Table, studies: dict[str, StudyRecord]) -> None:
        for line in table.lines:
            where = _where(table, line)
            study = self.study_of(table, line, studies)
            name = _one_line(line.values.get("code_set"))
            code_set = self.trees.code_sets.get(name)
            if code_set is None:
                self.report.error("unknown_attribute", where, table.label("code_set"),
                                  f"“{name}” is not a code set of the map" + (
                                      f" (its code sets: {', '.join(self.trees.code_sets)})" if self.trees.code_sets else ""))
                continue
            text = _text(line.values.get("code"))
            node = code_set.tree.by_path.get(split_path(text))
            if node is None:
                self.report.error("unknown_attribute", where, table.label("code"),
                                  f"“{text}” is not a code of the code set “{name}”")
            elif study is not None:
                study.codes.add(node.key)

    def study_of(self, table: Table, line: Line, studies: dict[str, StudyRecord]) -> StudyRecord | None:
        key = _text(line.values.get("study"))
        study = studies.get(key)
        if study is None:
            self.report.error("unknown_attribute", _where(table, line), table.label("study"),
                              f"“{key}” is not the Study ID of a line of the Studies sheet" if key else "is empty")
        return study

    def effects(self, table: Table, studies: dict[str, StudyRecord]) -> list[EffectRecord]:
        records: list[EffectRecord] = []
        seen: dict[str, int] = {}
        per_study: dict[str, int] = {}
        labels = {name: table.label(name) for name in table.headers} | {
            c.name: c.header for c in EFFECT_SIZES.columns if c.name not in table.headers
        }
        kinds = {spec.name.casefold(): spec.name for spec in INPUT_KIND_SPECS.values()} | {
            spec.label.casefold(): spec.name for spec in INPUT_KIND_SPECS.values()
        }
        for line in table.lines:
            where = _where(table, line)
            study = self.study_of(table, line, studies)
            study_key = _text(line.values.get("study"))
            per_study[study_key] = per_study.get(study_key, 0) + 1
            key = _text(line.values.get("external_id")) or f"{study_key}/{per_study[study_key]}"
            ref = f"{where} (effect size {key})"
            if key in seen:
                self.report.error("duplicate_id", where, labels["external_id"],
                                  f"“{key}” is also the ID of row {seen[key]}; each effect size needs its own")
                continue
            seen[key] = line.number
            nodes = [self.node(tree, _text(line.values.get(name)), what, ref, labels[name])
                     for name, tree, what in (("intervention", self.trees.interventions, "row"),
                                              ("outcome", self.trees.outcomes, "column"))]
            kind_text = _one_line(line.values.get("input_kind"))
            kind = kinds.get(kind_text.casefold())
            if kind is None:
                self.report.error("effect_input", ref, labels["input_kind"],
                                  f"“{kind_text}” is not an input kind (one of: {', '.join(INPUT_KIND_SPECS)})")
                continue
            inputs = self.inputs(line, kind, ref, labels)
            if study is None or nodes[0] is None or nodes[1] is None or inputs is None:
                continue
            records.append(EffectRecord(
                key=key, ref=ref, study=study.key, intervention=nodes[0].key, outcome=nodes[1].key,
                fields={"label": _one_line(line.values.get("label")), "input_kind": kind, **inputs,
                        "notes": _text(line.values.get("notes"))},
                labels=labels,
            ))
        return records

    def inputs(self, line: Line, kind: str, ref: str, labels: dict[str, str]) -> dict[str, float | int] | None:
        accepted = set(accepted_fields(kind))
        inputs: dict[str, float | int] = {}
        ok = True
        for name in INPUT_FIELDS:
            value = line.values.get(name)
            if value is None:
                continue
            if name not in accepted:
                self.report.warning("cleaned", ref, labels[name], f"is not read for the input kind “{kind}”; ignored")
                continue
            number = _number(value)
            if number is None:
                self.report.error("bad_value", ref, labels[name], f"“{_text(value)}” is not a number")
                ok = False
            elif name in INTEGER_INPUTS:
                if not number.is_integer():
                    self.report.error("bad_value", ref, labels[name], f"{_text(value)} is not a whole number")
                    ok = False
                else:
                    inputs[name] = int(number)
            else:
                inputs[name] = number
        return inputs if ok else None

    # -- the whole file ---------------------------------------------------------------------

    def convert(self) -> MapRecord:
        studies_table = self.tables[STUDIES.name]
        effects_table = self.tables.get(EFFECT_SIZES.name)
        codes_table = self.tables.get(CODES.name)
        self.framework()
        segment, filters = self.code_sets()
        manage_rows = studies_table.has("interventions")
        manage_columns = studies_table.has("outcomes")
        for managed, name, what in ((manage_rows, "interventions", "Rows"), (manage_columns, "outcomes", "Columns")):
            if managed:
                continue
            framework = self.tables.get(FRAMEWORK.name)
            kind = "row" if name == "interventions" else "column"
            if (effects_table is not None and effects_table.lines) or (framework is not None and any(
                    _text(line.values.get("kind")).casefold() == kind for line in framework.lines)):
                self.report.error("structure", "Studies sheet", what,
                                  f"this column is missing; with effect sizes or {kind}s in the file, the Studies "
                                  f"sheet says which {kind}s each study sits in")
        studies = self.studies(studies_table)
        by_key = {s.key: s for s in studies}
        record = MapRecord(source=f"{self.source}, {plural(len(studies), 'study', 'studies')}", studies=studies)
        if manage_rows:
            record.interventions = self.trees.interventions.roots
        if manage_columns:
            record.outcomes = self.trees.outcomes.roots
        if codes_table is not None:
            self.codings(codes_table, by_key)
            record.code_sets = [cs.record for cs in self.trees.code_sets.values()]
            record.segment_code_set = segment
            record.filter_code_sets = filters
        elif CODE_SETS.name in self.tables:
            self.report.warning("structure", "Code sets sheet", "",
                                "is read only with a sheet “Codes” (the studies' codings); ignored")
        if effects_table is not None:
            record.effects = self.effects(effects_table, by_key)
        return record


def _number(value: Value) -> float | None:
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(_text(value).replace("\u2212", "-"))
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def to_map_record(tables: dict[str, Table], trees: MapTrees, report: Report, *, source: str) -> MapRecord:
    """The map that a spreadsheet describes, its names resolved against `trees`; problems go to `report`."""
    return _Converter(tables, trees, report, source=source).convert()


def iter_paths(tree: list[NodeRecord], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], NodeRecord]]:
    for node in tree:
        yield (*prefix, node.name), node
        yield from iter_paths(node.children, (*prefix, node.name))
