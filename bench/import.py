"""Import a real-sized EPPI-Reviewer export on PostgreSQL and measure it.

    .venv/bin/python bench/import.py [--references 10000] [--codings 50000] [--outcomes 20000]
                                     [--seed 0] [--database-url postgres://postgres@127.0.0.1:5432/egm_bench_import]

Generates the export with `interchange.eppi.generate`, recreates the benchmark database (never
the one in DATABASE_URL), and times, in this process: the first import into a new map (goal
≤ 60 s), the same file again (goal ≤ 20 s; it must write nothing: no rows, no history, no version
bump) and an edited file (1 % of the references and outcomes changed). Prints each import's
stages and the figures, and exits with 1 when a goal is missed. Run by hand, never in tests.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/egm_bench_import"
SLUG = "bench-import"
GOALS = {"first import": 60.0, "same file again": 20.0}


def recreate_database(url: str) -> None:
    host_part, name = url.rsplit("/", 1)
    host = host_part.rsplit("@", 1)[-1].split(":")[0]
    user = host_part.split("//", 1)[1].split("@")[0].split(":")[0]
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-h", host, "-U", user, "-d", "postgres", "-qc", sql], check=True)


class Stages:
    """A progress callback that keeps how long each stage took."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.stage = ""
        self.at = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.stage:
            self.seconds[self.stage] += now - self.at
        self.stage, self.at = stage, now

    def finish(self) -> dict[str, float]:
        self("", 0, 0)
        return dict(self.seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--references", type=int, default=10_000)
    parser.add_argument("--codings", type=int, default=50_000)
    parser.add_argument("--outcomes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("The benchmark runs on PostgreSQL: give --database-url postgres://…")

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from evidence.models import EvidenceMap
    from interchange.eppi.convert import Selection
    from interchange.eppi.generate import generate_eppi
    from interchange.eppi.pipeline import import_eppi
    from studies.models import EffectSize, Study

    call_command("migrate", verbosity=0)

    started = time.perf_counter()
    made = generate_eppi(references=args.references, codings=args.codings, outcomes=args.outcomes, seed=args.seed)
    data = made.to_bytes("utf-8-sig")
    generated_in = time.perf_counter() - started
    path = Path(tempfile.gettempdir()) / f"bench-eppi-{args.seed}.json"
    path.write_bytes(data)
    refs = made.references
    print(
        f"Generated {path} in {generated_in:.1f} s: {len(data) / 1e6:.1f} MB, {len(refs):,} references, "
        f"{sum(len(r.get('Codes', [])) for r in refs):,} codings, {sum(len(r['Outcomes']) for r in refs):,} outcomes."
    )
    selection = Selection(
        rows=("1001",), columns=("1002",), designs="1003", countries="1004", segments="1003", filters=("1005", "1006"),
    )

    def history_rows() -> int:
        return sum(m.history.count() for m in (Study, EffectSize))  # type: ignore[attr-defined]

    def versions() -> tuple[int, int]:
        return EvidenceMap.objects.filter(slug=SLUG).values_list("version", "members_version").get()

    figures: dict[str, float] = {}

    def run(name: str, payload: bytes, *, title: str | None = None) -> object:
        stages = Stages()
        start = time.perf_counter()
        result = import_eppi(payload, selection, slug=SLUG, user=None, title=title, source_name=path.name,
                             progress=stages)
        figures[name] = time.perf_counter() - start
        if result.refused:
            raise SystemExit("The import was refused:\n" + "\n".join(result.report.lines(limit=5)))
        print(f"\n{name}: {figures[name]:.1f} s")
        for stage, seconds in stages.finish().items():
            print(f"  {stage:<34}{seconds:6.1f} s")
        if result.plan is not None:
            for line in result.plan.lines(limit=0)[1:]:
                if not line.lstrip().startswith(("…", "code sets to", "codes to", "rows to", "columns to",
                                                 "studies to", "effect sizes to")):
                    print(line)
        return result

    run("first import", data, title="Benchmark import")
    history, before = history_rows(), versions()
    again = run("same file again", data)
    assert not again.written, "the same file wrote something"
    assert history_rows() == history and versions() == before, "the same file left history rows or a version bump"

    edited = copy.deepcopy(made)
    step = 100
    for ref in edited.references[::step]:
        ref["Title"] = ref["Title"] + " (revised)"
    outcomes = [o for r in edited.references for o in r["Outcomes"]]
    for o in outcomes[::step]:
        o["Title"] = o["Title"] + " (revised)"
    run("edited file (1 % changed)", edited.to_bytes("utf-8-sig"))

    print("\nwork                              seconds   goal")
    missed = False
    for name, seconds in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"≤ {goal:.0f} s {'ok' if seconds <= goal else 'MISSED'}"
        missed |= goal is not None and seconds > goal
        print(f"{name:<34}{seconds:7.1f}   {verdict}")
    counts = (Study.objects.count(), EffectSize.objects.count(), Study.codes.through.objects.count())
    print(f"\nThe map holds {counts[0]:,} studies, {counts[1]:,} effect sizes and {counts[2]:,} codings.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
