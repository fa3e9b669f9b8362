from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.models import EvidenceMap
from interchange.table.export import map_workbook, map_workbook_data
from interchange.table.layout import template


class Command(BaseCommand):
    help = (
        "Write a whole map (rows and columns, code sets, studies with drafts, codings, effect sizes) as an .xlsx "
        "workbook in the import template's layout; or, with --template, the empty template."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The .xlsx file to write.")
        parser.add_argument("--map", dest="slug", help="Slug of the map to export.")
        parser.add_argument("--template", action="store_true", help="Write the empty template instead of a map.")
        parser.add_argument("--published", action="store_true",
                            help="Only what anonymous readers see (published studies of a published map).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["template"]:
            body = template()
        else:
            if not options["slug"]:
                raise CommandError("Give --map SLUG, or --template.")
            evidence_map = EvidenceMap.objects.filter(slug=options["slug"]).first()
            if evidence_map is None:
                raise CommandError(f"There is no map “{options['slug']}”.")
            if options["published"] and not evidence_map.is_published:
                raise CommandError(f"The map “{options['slug']}” is not published.")
            # Whoever runs manage.py sees what a superuser sees, drafts too, unless asked for
            # what every reader sees.
            reader = AnonymousUser() if options["published"] else get_user_model()(is_superuser=True, is_active=True)
            body = map_workbook(map_workbook_data(evidence_map, reader))
        options["file"].write_bytes(body)
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['file']} ({len(body):,} bytes)."))

