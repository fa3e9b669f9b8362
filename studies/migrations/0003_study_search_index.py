"""A GIN index for the map's text filter on PostgreSQL (SQLite searches by its own means).

The expression is the one evidence.filters.search_vector() builds, so the planner uses it.
"""

from django.db import migrations

INDEX = "study_search_english_gin"
EXPRESSION = (
    "((setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(authors, '')), 'A'))"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(abstract, '')), 'B'))"
)


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON studies_study USING gin ({EXPRESSION})")


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("studies", "0002_filter_indexes")]

    operations = [migrations.RunPython(create, drop)]
