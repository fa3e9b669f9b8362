import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from interchange.eppi.convert import Selection, code_tree, parse_ids
from interchange.eppi.pipeline import import_eppi
from interchange.eppi.read import Unreadable, read_file
from interchange.importing.report import Report


def _plain(text: str) -> str:
    """Progress is not an error: no colour, though it goes to stderr."""
    return text


REPORT_LINES = 20  # per kind of warning or note on the console; --report writes them all


class ProgressPrinter:
    """Each stage on its own line with the time it took; on a terminal, a live count too."""

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.stage = ""
        self.started = time.perf_counter()
        self.stage_started = self.started

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != self.stage:
            self.finish(now)
            self.stage, self.stage_started = stage, now
            if self.live:
                self.stream.write(f"{stage}…", ending="", style_func=_plain)
        elif self.live and total > 1:
            self.stream.write(f"\r{stage}… {done:,} of {total:,}", ending="", style_func=_plain)
        self.stream.flush()

    def finish(self, now: float | None = None) -> None:
        if self.stage:
            now = time.perf_counter() if now is None else now
            start = "\r\033[K" if self.live else ""
            self.stream.write(f"{start}{self.stage}: {now - self.stage_started:.1f} s", style_func=_plain)
            self.stream.flush()
        self.stage = ""


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
        parser.add_argument("--dry-run", action="store_true", help="Check and show what would change; write nothing.")
        parser.add_argument("--publish", action="store_true", help="Publish new studies at once (they are drafts otherwise).")
        parser.add_argument("--user", help="Username the changes are recorded under (the history's user).")
        parser.add_argument("--report", type=Path, help="Write the whole report (every warning and note) to this file.")
        parser.add_argument("--tree", action="store_true", help="Print the file's code sets with their ids, and stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
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
        user = None
        if options["user"]:
            user = get_user_model()._default_manager.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user “{options['user']}”.")
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
