from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.backup import BackupError, restore


class Command(BaseCommand):
    help = "Replace the whole database with a backup made by backup_db (everything since is lost)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The backup file.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not options["yes"]:
            answer = input(f"Replace the whole database with {path}? Type 'yes': ")
            if answer.strip() != "yes":
                raise CommandError("Nothing was restored.")
        try:
            restore(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored the database from {path}."))
