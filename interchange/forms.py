"""The admin's import forms: the upload (file and target map) and the choice of rows, columns,
segments, filters, designs and countries from the file's code sets."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from evidence.models import EvidenceMap, Role
from evidence.roles import maps_with_role
from interchange.eppi.convert import descendants
from interchange.eppi.read import EppiFile, Unreadable, read_file
from interchange.importing.report import Report, plural

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SHOWN_PROBLEMS = 20


def tree_choices(eppi: EppiFile) -> list[tuple[str, str]]:
    """Every code set and code of the file as (value, label): "set:N" with its name, then its codes
    indented, each with its AttributeId and how many references carry it."""
    uses: dict[int, int] = {}
    for reference in eppi.references:
        for attribute_id in {code.attribute_id for code in reference.codes}:
            uses[attribute_id] = uses.get(attribute_id, 0) + 1
    choices: list[tuple[str, str]] = []

    def add(attribute: Any, depth: int) -> None:
        count = uses.get(attribute.attribute_id, 0)
        label = f"{'— ' * depth}{attribute.name} (AttributeId {attribute.attribute_id}; {plural(count, 'reference')})"
        choices.append((f"attribute:{attribute.attribute_id}", label))
        for child in attribute.children:
            add(child, depth + 1)

    for code_set in eppi.code_sets:
        n = sum(1 + len(list(descendants(a))) for a in code_set.attributes)
        choices.append((f"set:{code_set.set_id}", f"{code_set.name} (SetId {code_set.set_id}; {plural(n, 'code')})"))
        for attribute in code_set.attributes:
            add(attribute, 1)
    return choices


class UploadForm(forms.Form):
    file = forms.FileField(help_text="An EPPI-Reviewer JSON export (the file EPPI-Mapper reads), in UTF-8.")
    evidence_map = forms.ModelChoiceField(
        EvidenceMap.objects.all(), required=False, label="Into the map",
        help_text="Leave empty to create a new map below.",
    )
    new_slug = forms.SlugField(required=False, max_length=80, label="New map's slug")
    new_title = forms.CharField(required=False, max_length=200, label="New map's title")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The maps this user may import into (the import checks the role its changes need).
        maps: Any = self.fields["evidence_map"]
        maps.queryset = maps_with_role(user, Role.REVIEWER)
        self.may_create = bool(user.has_perm("evidence.add_evidencemap"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        data = upload.read()
        report = Report()
        try:
            self.eppi = read_file(data, report)
        except Unreadable:
            raise ValidationError([str(p) for p in report.errors[:SHOWN_PROBLEMS]]) from None
        self.data_bytes = data
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        existing = cleaned.get("evidence_map")
        slug, title = cleaned.get("new_slug"), (cleaned.get("new_title") or "").strip()
        if existing is None and not (slug and title):
            raise ValidationError("Choose a map to import into, or give a slug and a title for a new one.")
        if existing is not None and (slug or title):
            raise ValidationError("Choose a map or give a new one, not both.")
        if existing is None and not self.may_create:
            raise ValidationError("You may not create maps: choose one of your maps to import into.")
        if slug and EvidenceMap.objects.filter(slug=slug).exists():
            self.add_error("new_slug", "A map with this slug exists; choose it above instead.")
        return cleaned


class SelectionForm(forms.Form):
    rows = forms.MultipleChoiceField(
        help_text="Each code chosen becomes a top-level row with its descendants; a code set gives its top-level codes.",
    )
    columns = forms.MultipleChoiceField(help_text="The same, for the columns.")
    segments = forms.ChoiceField(required=False, help_text="The code set whose codes segment the bubbles.")
    filters = forms.MultipleChoiceField(required=False, help_text="Code sets offered as filters.")
    designs = forms.ChoiceField(required=False, help_text="The code set or code whose codes name study designs.")
    countries = forms.ChoiceField(required=False, help_text="The code set or code whose codes name countries.")
    publish = forms.BooleanField(required=False, help_text="Publish new studies at once (they are drafts otherwise).")

    def __init__(self, *args: Any, tree: list[list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [(value, label) for value, label in tree]
        sets = [(value, label) for value, label in everything if value.startswith("set:")]
        none = [("", "—")]
        for name in ("rows", "columns"):
            self.fields[name].choices = everything  # type: ignore[attr-defined]
            self.fields[name].widget.attrs["size"] = 14
        self.fields["filters"].choices = sets  # type: ignore[attr-defined]
        self.fields["segments"].choices = none + sets  # type: ignore[attr-defined]
        for name in ("designs", "countries"):
            self.fields[name].choices = none + everything  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        """The choices as the job keeps them (ids separated by commas)."""
        data = self.cleaned_data
        return {
            "rows": ",".join(data["rows"]), "columns": ",".join(data["columns"]), "segments": data["segments"],
            "filters": ",".join(data["filters"]), "designs": data["designs"], "countries": data["countries"],
            "publish": data["publish"],
        }

    @staticmethod
    def initial_from(values: dict[str, Any]) -> dict[str, Any]:
        split = {name: [v for v in str(values[name]).split(",") if v] for name in ("rows", "columns", "filters")}
        return {**values, **split}
