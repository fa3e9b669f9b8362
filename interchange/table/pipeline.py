"""A spreadsheet into a map, from bytes to rows: read, resolve names, plan, write."""

from __future__ import annotations

from interchange.importing.plan import Progress, no_progress
from interchange.importing.report import Report
from interchange.importing.run import ImportResult, import_map
from interchange.table.convert import map_trees, to_map_record
from interchange.table.read import Unreadable, read_tables
from studies.services import User


def import_table(
    data: bytes,
    *,
    filename: str,
    slug: str,
    user: User,
    title: str | None = None,
    columns: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> ImportResult:
    """Import a workbook in the template's layout, or a CSV file of studies, into the map `slug`
    (created when `title` is given). `columns` maps the file's headers to the layout's fields.
    Every problem is in the result's report; nothing is written if one is an error, or on a dry run."""
    report = Report()
    progress("Reading the file", 0, 1)
    try:
        tables = read_tables(data, filename, columns or {}, report)
    except Unreadable:
        return ImportResult(report=report, plan=None, written=False)
    progress("Reading studies, codes and effect sizes", 0, 1)
    kind = "Excel workbook" if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04" else "CSV"
    record = to_map_record(tables, map_trees(slug) if title is None else map_trees(""), report, source=kind)
    return import_map(
        record, report, slug=slug, user=user, title=title, dry_run=dry_run,
        reason=f"Imported from {filename}", progress=progress,
    )
