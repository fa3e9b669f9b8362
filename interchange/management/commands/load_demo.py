from typing import Any

from django.core.management.base import BaseCommand

from interchange.demo import load_demo


class Command(BaseCommand):
    help = "Create or update the demo map (safe to run again: nothing is duplicated)."

    def handle(self, *args: Any, **options: Any) -> None:
        evidence_map = load_demo()
        studies = evidence_map.studies.count()
        self.stdout.write(self.style.SUCCESS(f"Demo map “{evidence_map.title}” ready: {studies} studies."))
