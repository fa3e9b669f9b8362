from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from interchange.management.console import (
    ProgressPrinter,
    add_import_arguments,
    importing_user,
    read_bytes,
    show_result,
)
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
        add_import_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        data = read_bytes(path)
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
