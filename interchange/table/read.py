"""A spreadsheet's cells, sheet by sheet, under the layout's field names: an .xlsx workbook in
the template's layout, or a CSV file (which is the Studies sheet alone).

Headers are matched to the layout's columns by their header or field name, in any case; a
column mapping ("Study ID=external_id,Published Year=year") names the columns of files that
do not follow the template. What cannot be read goes to the report; nothing here touches the
database.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from interchange.importing.report import Report
from interchange.table.layout import SHEETS, STUDIES, Sheet

Value = str | int | float | None


class Unreadable(Exception):
    """The file cannot be read at all (the report says why)."""


@dataclass
class Line:
    number: int  # the spreadsheet's row number (the header is row 1)
    values: dict[str, Value]  # by field name; only the columns the file has


@dataclass
class Table:
    sheet: Sheet
    headers: dict[str, str]  # field name -> the file's header
    lines: list[Line] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.headers

    def label(self, name: str) -> str:
        return self.headers.get(name, self.sheet.column(name).header)


def parse_mapping(text: str | None) -> dict[str, str]:
    """"Study ID=external_id, Published Year=year" -> {"study id": "external_id", ...}."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        header, sep, name = part.partition("=")
        if not sep or not header.strip() or not name.strip():
            raise ValueError(f"“{part.strip()}” is not HEADER=FIELD")
        mapping[_key(header)] = name.strip()
    return mapping


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _match_headers(sheet: Sheet, headers: list[Any], mapping: dict[str, str], report: Report) -> dict[int, str]:
    """Column index -> field name, for the columns of `sheet` the file has."""
    known = {_key(c.header): c.name for c in sheet.columns} | {_key(c.name): c.name for c in sheet.columns}
    found: dict[int, str] = {}
    taken: dict[str, str] = {}
    for index, raw in enumerate(headers):
        header = "" if raw is None else str(raw).strip()
        if not header:
            continue
        target = mapping.get(_key(header))
        name = known.get(_key(target)) if target is not None else known.get(_key(header))
        if target is not None and name is None:
            report.error("structure", f"{sheet.name} sheet", header,
                         f"the column mapping names “{target}”, which is not a column of this sheet "
                         f"(its columns: {', '.join(c.name for c in sheet.columns)})")
            continue
        if name is None:
            report.note("unknown_key", f"{sheet.name} sheet", header, "is not a column of the template; ignored")
            continue
        if name in taken:
            report.error("structure", f"{sheet.name} sheet", header,
                         f"holds {sheet.column(name).header} as the column “{taken[name]}” does; keep one")
            continue
        taken[name] = header
        found[index] = name
    for column in sheet.columns:
        if column.required and column.name not in taken:
            report.error("structure", f"{sheet.name} sheet", column.header,
                         "this column is missing" + (" (name the file's column with the column mapping, "
                                                     f"e.g. \"Your header={column.name}\")"))
    return found


def _cell(value: Any) -> Value:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    return text or None


def _table(sheet: Sheet, rows: list[list[Any]], mapping: dict[str, str], report: Report) -> Table:
    headers = rows[0] if rows else []
    columns = _match_headers(sheet, list(headers), mapping, report)
    table = Table(sheet, {name: str(headers[i]).strip() for i, name in columns.items()})
    for number, row in enumerate(rows[1:], start=2):
        values = {name: _cell(row[i]) if i < len(row) else None for i, name in columns.items()}
        if any(v is not None for v in values.values()):
            table.lines.append(Line(number, values))
    return table


def decode_csv(data: bytes, report: Report) -> str:
    """UTF-8 text, with or without a byte-order mark; any other encoding is an error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.error("encoding", "the file", "", "is UTF-16 text; save it as “CSV UTF-8” and import that")
        raise Unreadable
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        report.error(
            "encoding", "the file", f"line {line}",
            f"byte 0x{data[exc.start]:02x} at byte {exc.start:,} is not UTF-8: the file is in another encoding "
            "(Windows-1252 or Latin-1, perhaps); save it as “CSV UTF-8” and import that",
        )
        raise Unreadable from None


def read_csv(data: bytes, mapping: dict[str, str], report: Report) -> dict[str, Table]:
    text = decode_csv(data, report)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample.splitlines()[0] if sample else ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    if not rows:
        report.error("structure", "the file", "", "is empty")
        raise Unreadable
    return {STUDIES.name: _table(STUDIES, [list(r) for r in rows], mapping, report)}


def read_xlsx(data: bytes, mapping: dict[str, str], report: Report) -> dict[str, Table]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        report.error("structure", "the file", "", f"is not an Excel .xlsx workbook ({exc})")
        raise Unreadable from None
    try:
        by_name = {_key(name): name for name in workbook.sheetnames}
        tables: dict[str, Table] = {}
        for sheet in SHEETS:
            name = by_name.get(_key(sheet.name))
            if name is None:
                if sheet.required:
                    report.error("structure", "the workbook", sheet.name,
                                 f"has no sheet “{sheet.name}” (its sheets: {', '.join(workbook.sheetnames)})")
                continue
            rows = [list(row) for row in workbook[name].iter_rows(values_only=True)]
            # The mapping names the columns of a sheet of studies that does not follow the template.
            tables[sheet.name] = _table(sheet, rows, mapping if sheet is STUDIES else {}, report)
        return tables
    finally:
        workbook.close()


def read_tables(data: bytes, filename: str, mapping: dict[str, str], report: Report) -> dict[str, Table]:
    """The file's sheets by name: .xlsx by its content, anything else as CSV."""
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        tables = read_xlsx(data, mapping, report)
    else:
        tables = read_csv(data, mapping, report)
    if report.has_errors:
        raise Unreadable
    return tables
