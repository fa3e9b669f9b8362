import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.models import EvidenceMap
from interchange.eppi.export import export_map


class Command(BaseCommand):
    help = (
        "Export a whole map as EPPI-Reviewer-style JSON (the shape import_eppi reads): its framework "
        "and code sets, studies, codings and effect sizes. Drafts are included unless --published-only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The JSON file to write (UTF-8).")
        parser.add_argument("--map", dest="slug", required=True, help="Slug of the map to export.")
        parser.add_argument(
            "--published-only",
            action="store_true",
            help="Leave out draft studies, as readers see the map.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        evidence_map = EvidenceMap.objects.filter(slug=options["slug"]).first()
        if evidence_map is None:
            raise CommandError(f"There is no map “{options['slug']}”.")
        # The command is run by whoever runs manage.py: it sees what a superuser sees, drafts
        # too, unless asked for what every reader sees.
        user = (
            None
            if options["published_only"]
            else get_user_model()(is_superuser=True, is_active=True)
        )
        export = export_map(evidence_map, user)
        path: Path = options["file"]
        try:
            path.write_text(
                json.dumps(export.data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}") from exc
        references = export.data["References"]
        outcomes = sum(len(r["Outcomes"]) for r in references)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {path}: {len(export.data['CodeSets'])} code sets, {len(references)} references, {outcomes} outcomes."
            )
        )
        self.stdout.write("To import it as a new map:")
        self.stdout.write(
            f"  manage.py import_eppi {path} --map NEW-SLUG --create --title TITLE "
            + " ".join(export.import_options())
        )
