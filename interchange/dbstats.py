"""Planner statistics after a bulk write.

PostgreSQL plans each query from statistics that its autovacuum refreshes some time after
rows change. Right after a bulk write of thousands of rows (a generated or imported map) they
still describe the tables as they were, and the planner can pick a plan that is a thousand
times slower: seen here, the text filter took 1.1 s instead of 10 ms, because the planner
expected one study in the map and scanned them all instead of using the search index. So the
writers of big batches refresh the statistics of the tables they wrote. SQLite needs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Model


def refresh_statistics(models: Iterable[type[Model]]) -> None:
    """ANALYZE the tables of these models (and their many-to-many tables) on PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    tables: list[str] = []
    for model in models:
        tables.append(model._meta.db_table)
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through is not None:
                tables.append(through._meta.db_table)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(quote(t) for t in dict.fromkeys(tables))}")
