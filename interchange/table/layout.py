"""The spreadsheet layout of a map, declared once: its sheets, their columns (the field each
column holds, its header in words, what it takes), and the template built from them.

The reader (`interchange.table.read`), the converter to a `MapRecord`
(`interchange.table.convert`) and the workbook export (`interchange.table.export`) all take
their sheets and headers from here, so a workbook exported from a map is a file the importer
reads. Nothing here touches the database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font

from studies.effect_sizes.registry import INPUT_FIELDS, INPUT_KIND_SPECS, INTEGER_INPUTS
from studies.models import Confidence, EffectSize, Status, StudyDesign

PATH_SEPARATOR = " > "  # between the names of a row, column or code and its parent's
LIST_SEPARATOR = ";"  # between several rows, columns or countries in one cell


@dataclass(frozen=True)
class Column:
    name: str  # the field it holds
    header: str  # what the template calls it
    help: str  # what it takes, as the header's note says
    required: bool = False


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[Column, ...]
    help: str
    required: bool = False  # a workbook must have it

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def _verbose_name(name: str) -> str:
    """What the admin calls an effect size's input field ("SD 1", "n 1")."""
    return str(getattr(EffectSize._meta.get_field(name), "verbose_name", name))


def _choices(choices: list[tuple[str, str]]) -> str:
    return ", ".join(label for _, label in choices)


STUDIES = Sheet(
    "Studies",
    (
        Column("external_id", "Study ID", "Any text naming the study, unique in the file; a re-import finds the "
               "study by it.", required=True),
        Column("authors", "Authors", "Surname and initials, separated by “;”."),
        Column("year", "Year", "Four digits; empty when unknown."),
        Column("title", "Title", "The study's title.", required=True),
        Column("short_title", "Short title", "A short citation, e.g. Smith (2014)."),
        Column("source", "Source", "Journal, or report series."),
        Column("volume", "Volume", ""),
        Column("issue", "Issue", ""),
        Column("pages", "Pages", ""),
        Column("doi", "DOI", "10.xxxx/…, with or without https://doi.org/."),
        Column("url", "URL", "A web address (http or https)."),
        Column("abstract", "Abstract", ""),
        Column("keywords", "Keywords", "Separated by “;”."),
        Column("countries", "Countries", "Names or ISO codes, separated by “;”; “Global” for a study of many "
               "countries."),
        Column("design", "Design", f"One of: {_choices(StudyDesign.choices)}. Empty: Other for a new study."),
        Column("population", "Population", ""),
        Column("confidence", "Confidence", f"One of: {_choices(Confidence.choices)}; empty until appraised."),
        Column("status", "Status", f"One of: {_choices(Status.choices)}. Empty: Draft for a new study."),
        Column("interventions", "Rows", f"The map's rows the study sits in, by name; a sub-row as "
               f"“Parent{PATH_SEPARATOR}Child”; several separated by “;”."),
        Column("outcomes", "Columns", "The map's columns, written as the rows are."),
    ),
    "One line per study.",
    required=True,
)

EFFECT_SIZES = Sheet(
    "Effect sizes",
    (
        Column("study", "Study ID", "The Study ID of a line of the Studies sheet.", required=True),
        Column("external_id", "Effect size ID", "Any text naming the effect size, unique in the file; a re-import "
               "finds it by it. Empty: the study's ID and the line's place among its effect sizes."),
        Column("intervention", "Row", "The row, by name (“Parent > Child” for a sub-row).", required=True),
        Column("outcome", "Column", "The column, by name.", required=True),
        Column("label", "Label", "e.g. “campaign vs comparison, 2015 cohort”.", required=True),
        Column("input_kind", "Input kind", "What the study reports; see the sheet “Input kinds” for the columns "
               "each kind needs.", required=True),
        *(Column(name, _verbose_name(name), "A whole number."
                 if name in INTEGER_INPUTS else "A number.") for name in INPUT_FIELDS),
        Column("notes", "Notes", ""),
    ),
    "One line per effect size; fill the columns its input kind needs (sheet “Input kinds”).",
)

CODES = Sheet(
    "Codes",
    (
        Column("study", "Study ID", "The Study ID of a line of the Studies sheet.", required=True),
        Column("code_set", "Code set", "The code set's name.", required=True),
        Column("code", "Code", "The code's name; a code under another as “Parent > Child”.", required=True),
    ),
    "One line per code of a study. A study's codes are those of the file: codes not listed are removed.",
)

FRAMEWORK = Sheet(
    "Rows and columns",
    (
        Column("kind", "Row or column", "“Row” or “Column”.", required=True),
        Column("path", "Name", "The name; a sub-row as “Parent > Child” (its parent on a line above).",
               required=True),
        Column("description", "Description", ""),
        Column("external_id", "ID", "Identifier in the source system; may be empty."),
    ),
    "The map's rows and columns; optional (the map's own are used). Lines for new ones add them.",
)

CODE_SETS = Sheet(
    "Code sets",
    (
        Column("code_set", "Code set", "The code set's name.", required=True),
        Column("path", "Code", "Empty on the code set's own line; else the code's name, “Parent > Child” under "
               "another."),
        Column("description", "Description", ""),
        Column("external_id", "ID", "Identifier in the source system; may be empty."),
        Column("is_filter", "Filter", "On the code set's line: “yes” to offer it as a filter."),
        Column("segments", "Segments", "On one code set's line: “yes” for the set that segments the bubbles."),
    ),
    "The map's code sets and their codes; optional (the map's own are used). Lines for new ones add them.",
)

SHEETS: tuple[Sheet, ...] = (STUDIES, EFFECT_SIZES, CODES, FRAMEWORK, CODE_SETS)
INPUT_KINDS_SHEET = "Input kinds"  # a guide, not read on import


def _header_name(name: str) -> str:
    return EFFECT_SIZES.column(name).header if name in INPUT_FIELDS else name


def kind_guide() -> list[list[str]]:
    """The input kinds: name, label, the columns each needs and may have (the registry's)."""
    rows = [["Input kind", "Label", "Columns it needs", "Columns it may have"]]
    for spec in INPUT_KIND_SPECS.values():
        rows.append([
            spec.name, spec.label, "; ".join(_header_name(f) for f in spec.required),
            "; ".join(_header_name(f) for f in spec.optional),
        ])
    return rows


def new_workbook() -> Workbook:
    """A workbook with every sheet and its headers (each with its note), and the input-kind guide."""
    workbook = Workbook()
    for default in list(workbook.worksheets):  # the default empty sheet
        workbook.remove(default)
    bold = Font(bold=True)
    for sheet in SHEETS:
        ws = workbook.create_sheet(sheet.name)
        ws.append(sheet.headers)
        for cell, column in zip(ws[1], sheet.columns, strict=True):
            cell.font = bold
            note = column.help + (" Required." if column.required else "")
            if column.name == "input_kind":
                note += " " + " ".join(f"{row[0]}: {row[2]}." for row in kind_guide()[1:])
            if note.strip():
                cell.comment = Comment(note.strip(), "template")
        ws.freeze_panes = "A2"
    guide = workbook.create_sheet(INPUT_KINDS_SHEET)
    for row in kind_guide():
        guide.append(row)
    for cell in guide[1]:
        cell.font = bold
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template() -> bytes:
    """The empty template, as an .xlsx file."""
    return workbook_bytes(new_workbook())


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
