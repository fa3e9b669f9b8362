"""The text filter's query is the expression the GIN index was built on (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from evidence.filters import text_search
from studies.models import Study

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_text_search_uses_the_gin_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test table is tiny
    plan = text_search(Study.objects.all(), "cash transfer").order_by().values("id").explain()
    assert "study_search_english_gin" in plan, plan
