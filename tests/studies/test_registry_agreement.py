"""Everything that lists the effect-size input kinds, the input fields or the effect-label
presets agrees with the one declaration of each.

Input kinds and fields are declared in studies/effect_sizes/registry.py; the model's
choices, its numeric fields, the admin's fieldsets and the API's input fields must match
it.  Label presets are declared in evidence/stats/interpret.py (EFFECT_LABEL_PRESETS); the
map's EffectLabelPreset choices must match them.  The migrations must record the same
choices, so a new kind or preset without its migration fails here as well as in
`makemigrations --check`.  None of this needs the database.
"""

from __future__ import annotations

import re

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import User
from django.db import models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.test import RequestFactory
from rest_framework import serializers

from api.serializers import (
    EffectSizeCreateInputSerializer,
    EffectSizeOutputSerializer,
    EffectSizeUpdateInputSerializer,
    MapOutputSerializer,
)
from evidence.models import PRESET_LABELS, EffectLabelPreset, EvidenceMap
from evidence.stats.interpret import EFFECT_LABEL_PRESETS, effect_label
from studies.admin import EffectSizeAdmin, EffectSizeInline, StudyAdmin
from studies.effect_sizes.registry import INPUT_FIELD_SPECS, INPUT_FIELDS, INPUT_KIND_SPECS
from studies.models import EffectSize, InputKind, Study

KIND_CHOICES = [(spec.name, spec.label) for spec in INPUT_KIND_SPECS.values()]
# A preset without a written label gets None here, so no comparison with it can pass.
PRESET_CHOICES = [(name, PRESET_LABELS.get(name)) for name in EFFECT_LABEL_PRESETS]


@pytest.fixture(scope="module")
def migrated() -> ProjectState:
    """The models as the migrations on disk describe them."""
    return MigrationLoader(None, ignore_no_migrations=True).project_state()


def _constraint_values(model: type[models.Model], name: str) -> list[str]:
    constraint = next(c for c in model._meta.constraints if c.name == name)
    assert isinstance(constraint, models.CheckConstraint)
    ((lookup, values),) = constraint.condition.children
    assert lookup.endswith("__in")
    return list(values)


# --- input kinds ---


def test_model_choices_are_the_registry_kinds_in_order() -> None:
    field = EffectSize._meta.get_field("input_kind")
    assert list(field.choices) == KIND_CHOICES
    assert list(InputKind.choices) == KIND_CHOICES
    assert all(len(name) <= field.max_length for name, _ in KIND_CHOICES)
    assert _constraint_values(EffectSize, "es_input_kind_valid") == [name for name, _ in KIND_CHOICES]


def test_input_kind_members_keep_their_names() -> None:
    assert {member.name: member.value for member in InputKind} == {
        spec.member: spec.name for spec in INPUT_KIND_SPECS.values()
    }
    # Code and tests may name a kind by its member.
    assert InputKind.MEANS == "means"
    assert InputKind.COUNTS == "counts_2x2"
    assert InputKind.ES_P.label == "Hedges' g with its p-value"


def test_migrations_record_the_registry_kinds(migrated: ProjectState) -> None:
    recorded = migrated.models[("studies", "effectsize")].fields["input_kind"].choices
    assert list(recorded) == KIND_CHOICES


def _model_input_fields() -> dict[str, models.Field]:
    """The reviewer's numeric boxes: editable integer and real fields other than the key."""
    return {
        f.name: f
        for f in EffectSize._meta.concrete_fields
        if isinstance(f, models.IntegerField | models.FloatField) and f.editable and not f.primary_key
    }


def test_model_input_fields_are_the_registry_fields() -> None:
    found = _model_input_fields()
    assert set(found) == set(INPUT_FIELDS)
    for name, spec in INPUT_FIELD_SPECS.items():
        field = found[name]
        expected = models.IntegerField if spec.integer else models.FloatField
        assert isinstance(field, expected), f"{name}: {type(field).__name__}, registry says {expected.__name__}"
        assert field.null and field.blank, f"{name} must be optional in the model"


def test_migrations_record_the_registry_fields(migrated: ProjectState) -> None:
    recorded = migrated.models[("studies", "effectsize")].fields
    for name, spec in INPUT_FIELD_SPECS.items():
        expected = models.IntegerField if spec.integer else models.FloatField
        assert isinstance(recorded[name], expected), name


@pytest.mark.parametrize("serializer", [EffectSizeCreateInputSerializer, EffectSizeUpdateInputSerializer])
def test_api_input_fields_follow_the_registry(serializer: type[serializers.Serializer]) -> None:
    fields = serializer().fields
    numeric = {
        name for name, f in fields.items()
        if isinstance(f, serializers.IntegerField | serializers.FloatField)
    } - {"study", "intervention", "outcome"}
    assert numeric == set(INPUT_FIELDS)
    for name, spec in INPUT_FIELD_SPECS.items():
        field = fields[name]
        expected = serializers.IntegerField if spec.integer else serializers.FloatField
        assert isinstance(field, expected), f"{name}: {type(field).__name__}, registry says {expected.__name__}"
        assert not field.required and field.allow_null, name
    listed = re.search(r"one of: (.*)\.$", str(fields["input_kind"].help_text))
    assert listed is not None
    assert listed.group(1).split(", ") == [name for name, _ in KIND_CHOICES]


def test_api_output_lists_the_registry_fields_and_kinds() -> None:
    fields = EffectSizeOutputSerializer().fields
    names = list(fields)
    assert [n for n in names if n in INPUT_FIELD_SPECS] == list(INPUT_FIELDS)
    kind = fields["input_kind"]
    assert isinstance(kind, serializers.ChoiceField)
    assert list(kind.choices.items()) == KIND_CHOICES


@pytest.mark.parametrize(
    "model_admin",
    [admin.site._registry[EffectSize], EffectSizeInline(Study, admin.site)],
    ids=["EffectSizeAdmin", "EffectSizeInline"],
)
def test_admin_fieldsets_show_every_registry_field_once_in_order(model_admin: admin.options.BaseModelAdmin) -> None:
    request = RequestFactory().get("/")
    fieldsets = model_admin.get_fieldsets(request)
    shown = flatten_fieldsets(fieldsets)
    inputs = [name for name in shown if name in _model_input_fields()]
    assert inputs == list(INPUT_FIELDS)
    (reported,) = [opts["fields"] for title, opts in fieldsets if title and title.startswith("Reported input")]
    assert flatten_fieldsets([(None, {"fields": reported})]) == list(INPUT_FIELDS)
    assert "input_kind" in shown


def test_studies_show_their_effect_sizes_with_that_inline() -> None:
    assert EffectSizeInline in StudyAdmin.inlines
    assert isinstance(admin.site._registry[Study], StudyAdmin)


def test_admin_form_has_a_box_of_the_right_type_for_every_registry_field() -> None:
    model_admin = admin.site._registry[EffectSize]
    assert isinstance(model_admin, EffectSizeAdmin)
    request = RequestFactory().get("/")
    request.user = User(username="boss", is_superuser=True, is_active=True)  # unsaved: no queries
    form = model_admin.get_form(request)
    for name, spec in INPUT_FIELD_SPECS.items():
        box = form.base_fields[name]
        if spec.integer:  # a number box, or a drop-down of whole numbers (direction)
            assert isinstance(box, forms.IntegerField | forms.TypedChoiceField), name
        else:
            assert isinstance(box, forms.FloatField), name
    kind_box = form.base_fields["input_kind"]
    assert isinstance(kind_box, forms.TypedChoiceField)
    assert [c for c in kind_box.choices if c[0]] == KIND_CHOICES


# --- effect-label presets ---


def test_every_engine_preset_has_a_label_and_every_label_a_preset() -> None:
    assert list(PRESET_LABELS) == list(EFFECT_LABEL_PRESETS)
    assert all(label.strip() for label in PRESET_LABELS.values())


def test_map_preset_choices_are_the_engine_presets_in_order() -> None:
    field = EvidenceMap._meta.get_field("effect_label_preset")
    assert list(EffectLabelPreset.choices) == PRESET_CHOICES
    assert list(field.choices) == PRESET_CHOICES
    assert [name for name, _ in PRESET_CHOICES] == list(EFFECT_LABEL_PRESETS)
    assert all(len(name) <= field.max_length for name in EFFECT_LABEL_PRESETS)
    assert field.default in EFFECT_LABEL_PRESETS
    assert _constraint_values(EvidenceMap, "map_label_preset_valid") == list(EFFECT_LABEL_PRESETS)


def test_preset_members_keep_their_names() -> None:
    assert {m.name: m.value for m in EffectLabelPreset} == {name.upper(): name for name in EFFECT_LABEL_PRESETS}
    assert EffectLabelPreset.KRAFT2020 == "kraft2020"
    assert EvidenceMap._meta.get_field("effect_label_preset").default == EffectLabelPreset.KRAFT2020


def test_the_engine_accepts_every_preset_a_map_can_choose() -> None:
    for value in EffectLabelPreset.values:
        assert effect_label(0.3, preset=value).band


def test_migrations_record_the_engine_presets(migrated: ProjectState) -> None:
    recorded = migrated.models[("evidence", "evidencemap")].fields["effect_label_preset"].choices
    assert list(recorded) == PRESET_CHOICES


def test_api_map_output_offers_the_engine_presets() -> None:
    field = MapOutputSerializer().fields["effect_label_preset"]
    assert isinstance(field, serializers.ChoiceField)
    assert list(field.choices.items()) == PRESET_CHOICES
