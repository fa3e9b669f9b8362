from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the whole database (pg_dump on PostgreSQL, a copy on SQLite) to FILE or a dated file in backups/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="Where to write (default: backups/egm-<date>.*).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backed up to {path} ({path.stat().st_size:,} bytes)."))
