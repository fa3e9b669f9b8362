from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.management.console import (
    ProgressPrinter,
    add_import_arguments,
    importing_user,
    read_bytes,
    show_result,
)
from interchange.table.pipeline import import_table
from interchange.table.read import parse_mapping


class Command(BaseCommand):
    help = (
        "Import a spreadsheet into a map: an Excel workbook in the template's layout (sheets Studies, Effect "
        "sizes, Codes, and optionally Rows and columns, Code sets), or a CSV file of studies. The whole file is "
        "checked first; every problem is reported at once, and nothing is written unless there are none. "
        "`export_table --template FILE` writes the template."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The .xlsx workbook, or a CSV file (UTF-8, with or without BOM).")
        parser.add_argument("--map", dest="slug", required=True, help="Slug of the map to import into.")
        parser.add_argument("--create", action="store_true", help="Create the map (unpublished); needs --title.")
        parser.add_argument("--title", help="Title of the map that --create makes.")
        parser.add_argument(
            "--map-columns", dest="columns", metavar="MAPPING",
            help='The file\'s headers for the template\'s fields, e.g. "Study ID=external_id,Published Year=year" '
                 "(fields or the template's headers).",
        )
        add_import_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        data = read_bytes(path)
        if options["create"] != bool(options["title"]):
            raise CommandError("--create and --title go together (a new map needs its title).")
        try:
            columns = parse_mapping(options["columns"])
        except ValueError as exc:
            raise CommandError(f"--map-columns: {exc}") from None
        user = importing_user(options["user"])
        progress = ProgressPrinter(self.stderr)
        result = import_table(
            data, filename=path.name, slug=options["slug"], user=user, title=options["title"], columns=columns,
            dry_run=options["dry_run"], progress=progress,
        )
        progress.finish()
        show_result(self, result, dry_run=options["dry_run"], report=options["report"])
