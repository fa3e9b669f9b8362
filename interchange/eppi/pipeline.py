"""An EPPI-Reviewer export into a map, from bytes to rows: read, convert, plan, write."""

from __future__ import annotations

from interchange.eppi.convert import Selection, to_map_record
from interchange.eppi.read import Unreadable, read_file
from interchange.importing.plan import Progress, no_progress
from interchange.importing.report import Report
from interchange.importing.run import ImportResult, import_map
from studies.services import User


def import_eppi(
    data: bytes,
    selection: Selection,
    *,
    slug: str,
    user: User,
    title: str | None = None,
    dry_run: bool = False,
    source_name: str = "EPPI-Reviewer export",
    progress: Progress = no_progress,
) -> ImportResult:
    """Import an export into the map `slug` (created when `title` is given): every problem of
    the file is in the result's report; nothing is written if one is an error, or on a dry run."""
    report = Report()
    progress("Reading the file", 0, 1)
    try:
        eppi = read_file(data, report)
    except Unreadable:
        return ImportResult(report=report, plan=None, written=False)
    progress("Reading references and outcomes", 0, 1)
    record = to_map_record(eppi, selection, report)
    return import_map(
        record, report, slug=slug, user=user, title=title, dry_run=dry_run,
        reason=f"Imported from {source_name}", progress=progress,
    )
