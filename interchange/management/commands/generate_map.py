import time
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.generate import GenerateError, generate_map, parse_grid, summarise_map


def grid(text: str) -> tuple[int, int]:
    try:
        return parse_grid(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Write a published synthetic map of a chosen size (deterministic for a seed), for "
        "benchmarks and tests: studies, coding, appraisal and effect sizes of every input kind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The new map's slug.")
        parser.add_argument("--studies", type=int, required=True, help="Number of studies.")
        parser.add_argument("--effect-sizes", type=int, required=True, help="Number of effect sizes (at most 20 per study).")
        parser.add_argument("--rows", type=grid, default=(10, 6), help="Intervention categories x children (default 10x6).")
        parser.add_argument("--columns", type=grid, default=(8, 5), help="Outcome groups x children (default 8x5).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0): the same seed gives the same map.")
        parser.add_argument("--replace", action="store_true", help="Replace an existing map of this slug made by generate_map.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            evidence_map = generate_map(
                options["slug"], studies=options["studies"], effect_sizes=options["effect_sizes"],
                rows=options["rows"], columns=options["columns"], seed=options["seed"], replace=options["replace"],
            )
        except GenerateError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(
            f"Map “{evidence_map.title}” ({evidence_map.get_absolute_url()}) generated in {seconds:.1f} s."
        ))
        for line in summarise_map(evidence_map).lines():
            self.stdout.write(f"  {line}")
