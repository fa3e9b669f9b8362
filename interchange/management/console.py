"""What the import commands share: progress on stderr, the user to record, and the result on
stdout (plan, report, and the outcome in one line; a refused file is a CommandError)."""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from interchange.importing.run import ImportResult

REPORT_LINES = 20  # per kind of warning or note on the console; --report writes them all


def _plain(text: str) -> str:
    """Progress is not an error: no colour, though it goes to stderr."""
    return text


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


def importing_user(username: str | None) -> AbstractBaseUser | None:
    """The user named by --user, whom the history records; None when not given."""
    if not username:
        return None
    user = get_user_model()._default_manager.filter(username=username).first()
    if user is None:
        raise CommandError(f"There is no user “{username}”.")
    return user


def show_result(command: BaseCommand, result: ImportResult, *, dry_run: bool, report: Path | None) -> None:
    """The plan, the report (all of it in `report` when given) and what happened."""
    if result.plan is not None:
        for line in result.plan.lines():
            command.stdout.write(line)
    for line in result.report.lines(limit=REPORT_LINES):
        command.stdout.write(line)
    if report:
        report.write_text("\n".join(result.report.lines()) + "\n", encoding="utf-8")
        command.stdout.write(f"The whole report is in {report}.")
    if result.refused:
        n = len(result.report.errors)
        raise CommandError(f"{n:,} error{'s' if n != 1 else ''} in the file; nothing was imported.")
    if dry_run:
        command.stdout.write(command.style.WARNING("Dry run: nothing was written."))
    elif not result.written:
        command.stdout.write(command.style.SUCCESS("The map already holds everything in the file: nothing to change."))
    else:
        command.stdout.write(command.style.SUCCESS(f"Imported in {result.seconds:.1f} s."))


def add_import_arguments(parser: CommandParser) -> None:
    """The options every import command takes: a dry run, the user to record, the report file."""
    parser.add_argument("--dry-run", action="store_true", help="Check and show what would change; write nothing.")
    parser.add_argument("--user", help="Username the changes are recorded under (the history's user).")
    parser.add_argument("--report", type=Path, help="Write the whole report (every warning and note) to this file.")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a CommandError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
