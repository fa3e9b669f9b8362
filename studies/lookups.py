"""`field__in_ids=[...]`: membership in a long list of ids, sent as one parameter.

A cell of a real map holds thousands of studies and effect sizes, and `pk__in=ids` sends one
parameter per id: for 5,000 ids, composing and splitting the query costs ten times what the
database spends answering it. This lookup sends the ids as one value instead: a PostgreSQL
array (`= ANY(%s)`), or a JSON array that SQLite unpacks with json_each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.sql.compiler import SQLCompiler


class InIds(Lookup):
    lookup_name = "in_ids"

    def get_prep_lookup(self) -> list[int]:
        values: Iterable[Any] = self.rhs
        return [int(v) for v in values]

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids: list[int] = self.rhs
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, ids)
        if connection.vendor == "sqlite":
            return f"{lhs} IN (SELECT value FROM json_each(%s))", (*lhs_params, json.dumps(ids))
        placeholders = ", ".join(["%s"] * len(ids)) or "NULL"
        return f"{lhs} IN ({placeholders})", (*lhs_params, *ids)


# On every field, and on foreign keys (`study_id__in_ids`), whose lookups Django keeps apart.
Field.register_lookup(InIds)
ForeignObject.register_lookup(InIds)
