"""A map's own texts, per language (django-modeltranslation; README, "Languages").

Each field listed here gets one column per language (`name_en`, `name_fr`, ...) beside the
original column, which keeps the English text. Reads are unchanged: `node.name`, and the
selectors' `.values("name")`, give the active language's text and fall back to English when
a translation is missing (MODELTRANSLATION_FALLBACK_LANGUAGES). The admin shows a field per
language (evidence/admin.py).
"""

from __future__ import annotations

from django.utils.module_loading import import_string
from modeltranslation.translator import TranslationOptions, register, translator

from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome


@register(EvidenceMap)
class EvidenceMapTranslation(TranslationOptions):
    fields = ("title", "description", "search_dates", "inclusion_criteria", "methods_notes")


@register(Intervention)
class InterventionTranslation(TranslationOptions):
    fields = ("name", "description")


@register(Outcome)
class OutcomeTranslation(TranslationOptions):
    fields = ("name", "description")


@register(CodeSet)
class CodeSetTranslation(TranslationOptions):
    fields = ("name", "description")


@register(Code)
class CodeTranslation(TranslationOptions):
    fields = ("name", "description")


@register(CellSummary)
class CellSummaryTranslation(TranslationOptions):
    fields = (
        "headline", "short_summary", "about_intervention", "mechanism", "evidence_base", "findings",
        "confidence_assessment",
    )


def _history_columns() -> None:
    """The translation columns in the models' history too.

    simple-history builds each historical model when its model class is created, before
    modeltranslation adds the per-language columns; without them a save could not be recorded
    (and a change to a French name would leave no trace). Each historical model gets a plain
    copy of every translation column, as simple-history copies the others.
    """
    for model in (EvidenceMap, Intervention, Outcome, CodeSet, Code, CellSummary):
        historical = model.history.model
        have = {f.name for f in historical._meta.fields}
        for name in translator.get_options_for_model(model).get_field_names():
            for column in model._meta.fields:
                if column.name.startswith(f"{name}_") and column.name not in have and column.name != name:
                    _, path, args, kwargs = column.deconstruct()  # the plain field, as migrations see it
                    kwargs.update(unique=False, db_index=False)
                    historical.add_to_class(column.name, import_string(path)(*args, **kwargs))


_history_columns()
