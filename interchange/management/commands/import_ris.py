from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.management.commands.import_eppi import REPORT_LINES, ProgressPrinter
from interchange.ris.pipeline import import_ris


class Command(BaseCommand):
    help = (
        "Import a RIS file (from a reference manager or a database search) into a map as draft studies. "
        "Citations already on the map, or earlier in the file, by DOI and then by title and year, are "
        "listed and left out. The whole file is checked first; nothing is written if it has an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", type=Path, help="The RIS file (UTF-8, with or without a byte-order mark)."
        )
        parser.add_argument(
            "--map", dest="slug", required=True, help="Slug of the map to import into."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check and show what would change; write nothing.",
        )
        parser.add_argument(
            "--user", help="Username the changes are recorded under (the history's user)."
        )
        parser.add_argument(
            "--report",
            type=Path,
            help="Write the whole report (every warning and note) to this file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        user = None
        if options["user"]:
            user = get_user_model()._default_manager.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user “{options['user']}”.")
        progress = ProgressPrinter(self.stderr)
        result = import_ris(
            data,
            slug=options["slug"],
            user=user,
            dry_run=options["dry_run"],
            source_name=path.name,
            progress=progress,
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
            raise CommandError(
                f"{n:,} error{'s' if n != 1 else ''} in the file; nothing was imported."
            )
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        elif not result.written:
            self.stdout.write(
                self.style.SUCCESS(
                    "The map already holds every citation in the file: nothing to change."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported in {result.seconds:.1f} s."))
