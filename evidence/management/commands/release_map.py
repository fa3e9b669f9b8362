from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evidence.models import EvidenceMap
from evidence.releases.services import release_map


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Release a map: a numbered, dated snapshot of everything its readers see, which never "
        "changes afterwards. Anonymous readers then read this release until the next one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Slug of the map to release.")
        parser.add_argument("--notes", required=True, help="Release notes (Markdown): what is new.")
        parser.add_argument("--search-from", type=_date, help="First date of the searches it covers (YYYY-MM-DD).")
        parser.add_argument("--search-to", type=_date, help="Last date of the searches it covers (YYYY-MM-DD).")
        parser.add_argument(
            "--user", help="Username of the publisher who releases it (checked for the publisher role; "
            "without it, the release is the system's).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        evidence_map = EvidenceMap.objects.filter(slug=options["slug"]).first()
        if evidence_map is None:
            raise CommandError(f"There is no map “{options['slug']}”.")
        user = None
        if options["user"]:
            user = get_user_model()._default_manager.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user “{options['user']}”.")
        try:
            release = release_map(
                evidence_map=evidence_map, user=user, notes=options["notes"],
                search_from=options["search_from"], search_to=options["search_to"],
            )
        except (ValidationError, PermissionDenied) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError(" ".join(messages)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Released {evidence_map.slug} as release {release.number}: {release.n_studies} studies, "
            f"{release.n_effect_sizes} effect sizes, {release.n_cells} cells, {release.size_bytes:,} bytes "
            f"(compressed). Readers find it at {release.get_absolute_url()}"
        ))
