import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interchange.eppi.generate import DEFECTS, ENCODINGS, generate_eppi


class Command(BaseCommand):
    help = (
        "Write a realistic EPPI-Reviewer JSON export (deterministic for a seed): code sets, references with "
        "their codes, and outcomes of every outcome type; optionally with the defects real files have and "
        f"in another encoding. Defects: {', '.join(DEFECTS)}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="Where to write the file.")
        parser.add_argument("--references", type=int, required=True, help="Number of references.")
        parser.add_argument("--outcomes", type=int, required=True, help="Number of outcomes, in all.")
        parser.add_argument("--codings", type=int, help="Number of codes on references, in all (default 5 per reference).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0): the same seed gives the same file.")
        parser.add_argument("--defects", default="", help=f"Comma-separated, from: {', '.join(DEFECTS)}.")
        parser.add_argument("--encoding", default="utf-8-sig", choices=ENCODINGS,
                            help="Encoding of the file (default utf-8-sig: UTF-8 with a byte-order mark, as EPPI-Reviewer writes).")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        defects = [d.strip() for d in options["defects"].split(",") if d.strip()]
        try:
            generated = generate_eppi(
                references=options["references"], outcomes=options["outcomes"], codings=options["codings"],
                seed=options["seed"], defects=defects,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        data = generated.to_bytes(options["encoding"])
        options["file"].write_bytes(data)
        refs = generated.references
        n_codes = sum(len(r.get("Codes", [])) for r in refs)
        n_outcomes = sum(len(r.get("Outcomes", [])) for r in refs)
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {options['file']} ({len(data) / 1e6:.1f} MB, {options['encoding']}) in "
            f"{time.perf_counter() - started:.1f} s: {len(refs):,} references, {n_codes:,} codings, {n_outcomes:,} outcomes."
        ))
        for defect, records in generated.defects.items():
            self.stdout.write(f"  defect {defect}: {', '.join(records)}")
        self.stdout.write(f"Import it with: manage.py import_eppi {options['file']} --map SLUG --create --title TITLE "
                          f"{generated.command_options()}")
