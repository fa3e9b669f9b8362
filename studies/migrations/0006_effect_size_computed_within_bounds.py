"""Effect sizes keep g, its variance and its interval within bounds (studies.effect_sizes.common).

Rows saved before the bounds were checked may lie outside them. They are not changed or
deleted here: the migration stops and names them, so that a reviewer corrects their input
(or deletes them) and runs it again.
"""

from django.db import migrations, models
from django.db.models import Q

BOUNDS = (
    Q(g__gte=-10.0, g__lte=10.0)
    & Q(var_g__gte=1e-10, var_g__lte=100.0)
    & Q(se_g__lte=10.0)
    & Q(ci_low_g__gte=-40.0, ci_high_g__lte=40.0)
)


def refuse_rows_out_of_bounds(apps, schema_editor):  # type: ignore[no-untyped-def]
    effect_size = apps.get_model("studies", "EffectSize")
    outside = effect_size.objects.using(schema_editor.connection.alias).exclude(BOUNDS)
    rows = list(outside.order_by("pk").values_list("pk", "study_id", "g", "var_g")[:50])
    if rows:
        listed = "; ".join(f"effect size {pk} (study {study}): g = {g!r}, var(g) = {v!r}" for pk, study, g, v in rows)
        raise RuntimeError(
            f"{outside.count()} effect size(s) lie outside the bounds |g| ≤ 10, 1e-10 ≤ var(g) ≤ 100 "
            f"(README, \"Bounds\"): {listed}. Correct their input in the admin, or delete them, "
            "then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0005_study_reference_fields_and_effect_external_id"),
    ]

    operations = [
        migrations.RunPython(refuse_rows_out_of_bounds, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="effectsize",
            constraint=models.CheckConstraint(
                condition=BOUNDS,
                name="es_computed_within_bounds",
                violation_error_message=(
                    "g must lie within ±10, its variance between 1e-10 and 100 and its interval within ±40."
                ),
            ),
        ),
    ]
