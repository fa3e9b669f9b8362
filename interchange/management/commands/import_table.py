from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.management.commands.import_eppi import REPORT_LINES, ProgressPrinter
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
        parser.add_argument("--dry-run", action="store_true", help="Check and show what would change; write nothing.")
        parser.add_argument("--user", help="Username the changes are recorded under (the history's user).")
        parser.add_argument("--report", type=Path, help="Write the whole report (every warning and note) to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        if options["create"] != bool(options["title"]):
            raise CommandError("--create and --title go together (a new map needs its title).")
        try:
            columns = parse_mapping(options["columns"])
        except ValueError as exc:
            raise CommandError(f"--map-columns: {exc}") from None
        user = None
        if options["user"]:
            user = get_user_model()._default_manager.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user “{options['user']}”.")
        progress = ProgressPrinter(self.stderr)
        result = import_table(
            data, filename=path.name, slug=options["slug"], user=user, title=options["title"], columns=columns,
            dry_run=options["dry_run"], progress=progress,
        )
        progress.finish()
        if result.plan is not None:
            for line in result.plan.lines():
                self.stdout.write(line)
        for line in result.report.lines(limit=REPORT_LINES):
            self.stdout.write(line)
        if options["report"]:
            options["report"].write_text("\n".join(result.report.lines()) + "\n", encoding="utf-8")
            self.stdout.write(f"The whole report is in {options['report']}.")
        if result.refused:
            n = len(result.report.errors)
            raise CommandError(f"{n:,} error{'s' if n != 1 else ''} in the file; nothing was imported.")
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        elif not result.written:
            self.stdout.write(self.style.SUCCESS("The map already holds everything in the file: nothing to change."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported in {result.seconds:.1f} s."))
