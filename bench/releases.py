"""Release a real-sized map and measure what a release costs: time, size, first read.

    DATABASE_URL=postgres://... .venv/bin/python bench/releases.py [--studies 20000] [--effect-sizes 100000]

Builds the map with `manage.py generate_map` (or reuses it), releases it, and prints the time
the release took, the size of its compressed document, the time the first read takes to
materialise it (evidence.releases.store), and the times of data.json and of the busiest cell's
page read from the release (first and cached). Run by hand, never in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--effect-sizes", type=int, default=100_000)
    parser.add_argument("--slug", default="bench-releases")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("RELEASE_CACHE_DIR", tempfile.mkdtemp(prefix="egm-releases-"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from evidence.models import EvidenceMap
    from evidence.releases import store
    from evidence.releases.services import release_map
    from evidence.releases.snapshot import decode

    print(f"database: {connection.vendor}")
    call_command("migrate", verbosity=0)
    if not EvidenceMap.objects.filter(slug=args.slug).exists():
        start = time.perf_counter()
        call_command("generate_map", args.slug, "--studies", str(args.studies),
                     "--effect-sizes", str(args.effect_sizes), verbosity=0)
        print(f"generated the map in {time.perf_counter() - start:.1f} s")
    evidence_map = EvidenceMap.objects.get(slug=args.slug)
    EvidenceMap.objects.filter(pk=evidence_map.pk).update(is_published=True)

    start = time.perf_counter()
    release = release_map(evidence_map=evidence_map, user=None, notes="Benchmark.")
    took = time.perf_counter() - start
    document = decode(release.document)
    raw = sum(len(str(v)) for v in document.values())
    print(f"release {release.number}: {release.n_studies} studies, {release.n_effect_sizes} effect sizes, "
          f"{release.n_cells} cells")
    print(f"releasing took {took:.1f} s")
    print(f"document: {release.size_bytes:,} bytes compressed (about {raw:,} characters of JSON)")

    path = store.path_of(release)
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    store.materialise(release)
    print(f"materialising on first read took {time.perf_counter() - start:.1f} s "
          f"({path.stat().st_size:,} bytes of SQLite)")

    client = Client()
    cells = document["cells"]
    busiest = max(cells.values(), key=lambda cell: cell["n_effects"])
    base = f"/maps/{args.slug}/releases/{release.number}/"
    for label, url in (
        ("data.json", f"{base}data.json"),
        ("data.json, years 2010-2020", f"{base}data.json?year_min=2010&year_max=2020"),
        (f"cell page, busiest ({busiest['n_effects']} effect sizes)",
         f"{base}cells/{busiest['intervention_id']}/{busiest['outcome_id']}/"),
    ):
        times = []
        for _ in range(2):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{label}: first {times[0] * 1000:.0f} ms, cached {times[1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
