from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.management.console import ProgressPrinter, importing_user, show_result
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
        user = importing_user(options["user"])
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
        show_result(self, result, dry_run=options["dry_run"], report=options["report"])
