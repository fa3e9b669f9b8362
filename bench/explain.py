"""The plan PostgreSQL runs for each query of a map request, with its timings.

    .venv/bin/python bench/explain.py [--slug bench-20000-100000] [--database-url URL]

For the map's unfiltered, year-filtered and text-filtered membership (the queries behind
data.json, the API's cells and, restricted to a subtree, a cell page) prints
EXPLAIN (ANALYZE, BUFFERS) of each: which indexes are used and where the time goes. Uses the
map bench/portal.py generates. Run by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="bench-20000-100000")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/egm_bench")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings")
    import django

    django.setup()
    from evidence.filters import StudyFilters
    from evidence.models import EvidenceMap, Intervention, Outcome
    from evidence.selectors import framework_tree
    from evidence.synthesis.membership import membership_queries

    evidence_map = EvidenceMap.objects.get(slug=args.slug)
    interventions = framework_tree(Intervention, evidence_map)
    outcomes = framework_tree(Outcome, evidence_map)
    busiest_leaf = next(i for i, node in interventions.items() if not node.children)
    top_column = next(iter(outcomes))
    cases = [
        ("the whole map", {}, None),
        ("years 2010-2020", {"year_min": "2010", "year_max": "2020"}, None),
        ("text 'cash transfer'", {"q": "cash transfer"}, None),
        ("one aggregate cell", {}, (busiest_leaf, top_column)),
    ]
    for title, query, only in cases:
        filters = StudyFilters.from_query(query)
        for name, queryset in membership_queries(evidence_map, filters, interventions, outcomes, only=only).items():
            print(f"\n=== {title}: {name}")
            print(queryset.explain(analyze=True, buffers=True))


if __name__ == "__main__":
    main()
