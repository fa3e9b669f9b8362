from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.eppi.convert import Selection, code_tree, parse_ids
from interchange.eppi.pipeline import import_eppi
from interchange.eppi.read import Unreadable, read_file
from interchange.importing.report import Report
from interchange.management.console import (
    ProgressPrinter,
    add_import_arguments,
    importing_user,
    read_bytes,
    show_result,
)


class Command(BaseCommand):
    help = (
        "Import an EPPI-Reviewer JSON export (what EPPI-Mapper reads) into a map: code sets, references "
        "as studies, their codes, and outcomes as effect sizes. The whole file is checked first; every "
        "problem is reported at once, and nothing is written unless there are none. Run with --tree to "
        "see the file's code sets and their ids."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The JSON file (UTF-8, with or without a byte-order mark).")
        parser.add_argument("--map", dest="slug", help="Slug of the map to import into.")
        parser.add_argument("--create", action="store_true", help="Create the map (unpublished); needs --title.")
        parser.add_argument("--title", help="Title of the map that --create makes.")
        parser.add_argument("--rows", help="AttributeIds (each a top-level row with its descendants) or a SetId, comma-separated.")
        parser.add_argument("--columns", help="AttributeIds or a SetId for the columns, comma-separated.")
        parser.add_argument("--segments", help="SetId of the code set whose codes segment the bubbles.")
        parser.add_argument("--filters", help="SetIds of the code sets to offer as filters, comma-separated.")
        parser.add_argument("--designs", help="SetId or AttributeId whose codes name study designs.")
        parser.add_argument("--countries", help="SetId or AttributeId whose codes name countries.")
        parser.add_argument("--publish", action="store_true", help="Publish new studies at once (they are drafts otherwise).")
        parser.add_argument("--tree", action="store_true", help="Print the file's code sets with their ids, and stop.")
        add_import_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        data = read_bytes(path)
        if options["tree"]:
            self.tree(data)
            return
        slug = options["slug"]
        if not slug:
            raise CommandError("--map SLUG is required (the map to import into).")
        if options["create"] and not options["title"]:
            raise CommandError("--create needs --title TITLE (the new map's title).")
        if options["title"] and not options["create"]:
            raise CommandError("--title is for a new map: add --create, or leave the title out.")
        for option in ("rows", "columns"):
            if not options[option]:
                raise CommandError(f"--{option} IDS is required (AttributeIds or a SetId; --tree lists them).")
        user = importing_user(options["user"])
        selection = Selection(
            rows=parse_ids(options["rows"]), columns=parse_ids(options["columns"]),
            segments=options["segments"] or None, filters=parse_ids(options["filters"]),
            designs=options["designs"] or None, countries=options["countries"] or None, publish=options["publish"],
        )
        progress = ProgressPrinter(self.stderr)
        result = import_eppi(
            data, selection, slug=slug, user=user, title=options["title"] if options["create"] else None,
            dry_run=options["dry_run"], source_name=path.name, progress=progress,
        )
        progress.finish()
        show_result(self, result, dry_run=options["dry_run"], report=options["report"])

    def tree(self, data: bytes) -> None:
        report = Report()
        try:
            eppi = read_file(data, report)
        except Unreadable:
            for line in report.lines():
                self.stdout.write(line)
            raise CommandError("The file cannot be read.") from None
        for line in code_tree(eppi):
            self.stdout.write(line)
