"""The map's framework: maps, their intervention rows and outcome columns, cell summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from modeltranslation.manager import MultilingualManager
from simple_history.models import HistoricalRecords

from evidence.stats.interpret import EFFECT_LABEL_PRESETS
from studies.models import CheckedText, Confidence, draft_maps

if TYPE_CHECKING:
    from evidence.stats.interpret import ConfidenceRules



class PoolingMethod(models.TextChoices):
    REML = "REML", "Restricted maximum likelihood (REML)"
    DL = "DL", "DerSimonian-Laird"
    PM = "PM", "Paule-Mandel"
    ML = "ML", "Maximum likelihood"
    HE = "HE", "Hedges"
    SJ = "SJ", "Sidik-Jonkman"
    HS = "HS", "Hunter-Schmidt"
    EB = "EB", "Empirical Bayes"
    EE = "EE", "Equal effects (fixed effect)"


class PoolingTest(models.TextChoices):
    Z = "z", "z test (normal)"
    T = "t", "t test (k - 1 df)"
    KNHA = "knha", "Hartung-Knapp-Sidik-Jonkman"


# How the map settings name each effect-label preset of evidence.stats.interpret.  A preset
# added there without a name here is offered under its source (tests/studies/
# test_registry_agreement.py fails until it gets one here, and a migration).
PRESET_LABELS: dict[str, str] = {
    "kraft2020": "Kraft (2020): education and social interventions",
    "cohen1988": "Cohen (1988)",
    "lovakov2021": "Lovakov & Agadullina (2021)",
}

# One choice per preset, in the engine's order; members are the upper-cased names
# (EffectLabelPreset.KRAFT2020 == "kraft2020").
EffectLabelPreset = models.TextChoices(  # type: ignore[call-overload]
    "EffectLabelPreset",
    [
        (name.upper(), (name, PRESET_LABELS.get(name) or preset.source or name))
        for name, preset in EFFECT_LABEL_PRESETS.items()
    ],
)


# Plain http is allowed only for the reader's own machine, which browsers treat as secure too.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})
_URL = URLValidator(schemes=["https", "http"])


def embed_origin(text: str) -> str | None:
    """`text` as a web origin a map's embed page may be framed by ("https://partner.example.org",
    or "http://localhost:8080"), lower-cased and without a final "/"; None if it is not one."""
    text = text.strip()
    try:
        _URL(text)
        parts = urlsplit(text)
        port = parts.port
    except (ValidationError, ValueError):
        return None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/") or "*" in host or not host:
        return None
    if parts.scheme.lower() != "https" and host not in _LOOPBACK:
        return None
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def validate_embed_origins(value: str) -> None:
    """One origin per line; names every line that is not one."""
    problems = [
        f"line {number}: “{line.strip()}” is not a web origin such as https://partner.example.org "
        "(https, a host name and at most a port; no path)"
        for number, line in enumerate(value.splitlines(), start=1)
        if line.strip() and embed_origin(line) is None
    ]
    if problems:
        raise ValidationError("; ".join(problems).capitalize() + ".", code="invalid_origin")


class EvidenceMapQuerySet(models.QuerySet["EvidenceMap"]):
    def visible_to(self, user: object) -> EvidenceMapQuerySet:
        """Published maps, and the maps where the user has a role (studies' one rule)."""
        maps = draft_maps(user)
        return self if maps is None else self.filter(Q(is_published=True) | Q(pk__in=maps))


class EvidenceMap(CheckedText):
    """One evidence and gap map, with its methods text and synthesis settings."""

    write_role: ClassVar[str] = "editor"
    publish_field: ClassVar[str] = "is_published"
    create_permission: ClassVar[str] = "evidence.add_evidencemap"
    delete_role: ClassVar[str] = "publisher"  # a whole map, with everything on it

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True, help_text="Markdown.")
    search_dates = models.CharField(
        max_length=200, blank=True, help_text='For example "January 2000 to March 2024".'
    )
    inclusion_criteria = models.TextField(blank=True, help_text="Markdown.")
    methods_notes = models.TextField(blank=True, help_text="Anything else about the methods. Markdown.")
    last_search_update = models.DateField(null=True, blank=True)
    organisation = models.CharField(
        max_length=200, blank=True, help_text="Who publishes the map (the author of its citations)."
    )
    update_plan = models.TextField(
        blank=True, help_text="How and how often the map is updated (shown with its releases). Markdown."
    )
    is_published = models.BooleanField(default=False, db_index=True)

    pooling_method = models.CharField(
        max_length=8, choices=PoolingMethod.choices, default=PoolingMethod.REML
    )
    pooling_test = models.CharField(max_length=8, choices=PoolingTest.choices, default=PoolingTest.Z)
    within_study_correlation = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Assumed correlation between effect sizes of one study (CHE working model).",
    )
    effect_label_preset = models.CharField(
        max_length=16, choices=EffectLabelPreset.choices, default=EffectLabelPreset.KRAFT2020
    )
    min_studies_for_confidence = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)],
        help_text="Cells with fewer studies are rated low confidence.",
    )
    inconsistency_i2 = models.FloatField(
        default=75.0, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="I² (%) at or above which inconsistency lowers confidence one level.",
    )
    egger_alpha = models.FloatField(
        default=0.10, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Egger p below which small-study effects lower confidence one level.",
    )
    egger_min_k = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(3)],
        help_text="Egger's test is run only with at least this many effect sizes.",
    )
    segment_code_set = models.ForeignKey(
        "CodeSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The code set whose codes segment the map's bubbles (empty: segment by study design).",
    )
    embed_origins = models.TextField(
        blank=True, validators=[validate_embed_origins],
        help_text="The web sites that may show this map's embed page in a frame: one origin per line, "
        "such as https://partner.example.org. Empty: no site may frame it.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped in the same transaction as every write that can change what readers see
    # (`version`) or what reviewers see, drafts included (`members_version`); computed
    # results are cached under them (evidence.versions).
    version = models.PositiveBigIntegerField(default=1, editable=False)
    members_version = models.PositiveBigIntegerField(default=1, editable=False)
    changed_at = models.DateTimeField(default=timezone.now, editable=False)
    members_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords(excluded_fields=["version", "members_version", "changed_at", "members_changed_at"])

    # modeltranslation's manager over the map's queryset (see FrameworkNode.objects).
    objects = MultilingualManager.from_queryset(EvidenceMapQuerySet)()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(within_study_correlation__gte=0) & Q(within_study_correlation__lte=1),
                name="map_rho_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(inconsistency_i2__gte=0) & Q(inconsistency_i2__lte=100),
                name="map_i2_threshold_is_percent",
            ),
            models.CheckConstraint(
                condition=Q(egger_alpha__gte=0) & Q(egger_alpha__lte=1), name="map_egger_alpha_in_unit_interval"
            ),
            models.CheckConstraint(
                condition=Q(pooling_method__in=PoolingMethod.values), name="map_pooling_method_valid"
            ),
            models.CheckConstraint(
                condition=Q(pooling_test__in=PoolingTest.values), name="map_pooling_test_valid"
            ),
            models.CheckConstraint(
                condition=Q(effect_label_preset__in=EffectLabelPreset.values), name="map_label_preset_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portal:map", kwargs={"slug": self.slug})

    def clean(self) -> None:
        lines = [line for line in self.embed_origins.splitlines() if line.strip()]
        if all(embed_origin(line) for line in lines):
            self.embed_origins = "\n".join(self.embed_origin_list)  # one canonical spelling each
        segments = self.segment_code_set
        if segments is not None and (self.pk is None or segments.evidence_map_id != self.pk):
            raise ValidationError({
                "segment_code_set": f"The code set “{segments.name}” belongs to another map; "
                "choose one of this map's code sets.",
            })

    @property
    def embed_origin_list(self) -> tuple[str, ...]:
        """The origins that may frame the embed page, each once (a line that is not an origin,
        which validation refuses, is left out rather than sent in a header)."""
        found = (embed_origin(line) for line in self.embed_origins.splitlines())
        return tuple(dict.fromkeys(origin for origin in found if origin))

    @property
    def confidence_rules(self) -> ConfidenceRules:
        from evidence.stats.interpret import ConfidenceRules

        return ConfidenceRules(
            min_studies=self.min_studies_for_confidence,
            i2_threshold=self.inconsistency_i2,
            egger_alpha=self.egger_alpha,
            egger_min_k=self.egger_min_k,
        )


class FrameworkNode(CheckedText):
    """A node of a map's row or column tree (any depth: category, sub-category, ...)."""

    write_role: ClassVar[str] = "editor"

    evidence_map = models.ForeignKey(
        EvidenceMap, on_delete=models.CASCADE, related_name="%(class)ss"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order among its siblings.")
    # modeltranslation's manager, declared (it would patch it in anyway): queries on `name`
    # read the active language's column, with English as the fallback (evidence/translation.py).
    objects = MultilingualManager()
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Identifier in the source system (e.g. EPPI-Reviewer AttributeId)."
    )

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_parent(self, "evidence_map_id", owner="map", kind="node")


def check_parent(item: Any, owner_field: str, *, owner: str, kind: str) -> None:
    """The tree rules of a node's parent (framework nodes, codes): in the same `owner` (the
    field `owner_field` agrees), and never the node itself or one of its descendants."""
    parent = item.parent
    if parent is None:
        return
    if getattr(parent, owner_field) != getattr(item, owner_field):
        raise ValidationError({"parent": f"The parent belongs to another {owner}."})
    seen = {item.pk} if item.pk else set()
    node = parent
    while node is not None:
        if node.pk in seen:
            raise ValidationError({"parent": f"A {kind} cannot be its own ancestor."})
        seen.add(node.pk)
        node = node.parent


def node_constraints(prefix: str) -> list[models.BaseConstraint]:
    """The tree rules both kinds of node share: unique sibling names, no node its own parent."""
    return [
        models.UniqueConstraint(fields=["evidence_map", "parent", "name"], name=f"{prefix}_unique_name_per_parent"),
        models.UniqueConstraint(
            fields=["evidence_map", "name"],
            condition=Q(parent__isnull=True),
            name=f"{prefix}_unique_top_level_name",
        ),
        models.CheckConstraint(condition=~Q(parent=models.F("id")), name=f"{prefix}_not_own_parent"),
        models.UniqueConstraint(
            fields=["evidence_map", "external_id"],
            condition=~Q(external_id=""),
            name=f"{prefix}_external_id_unique_per_map",
        ),
    ]


class Intervention(FrameworkNode):
    history = HistoricalRecords()

    class Meta(FrameworkNode.Meta):
        constraints = node_constraints("intervention")


class Direction(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class Outcome(FrameworkNode):
    desirable_direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.HIGHER
    )
    history = HistoricalRecords()

    class Meta(FrameworkNode.Meta):
        constraints = [
            *node_constraints("outcome"),
            models.CheckConstraint(
                condition=Q(desirable_direction__in=Direction.values), name="outcome_direction_valid"
            ),
        ]

    @property
    def higher_is_better(self) -> bool:
        return self.desirable_direction == Direction.HIGHER


class CodeSet(CheckedText):
    """A map's own code set (setting, population group, language, funding...): a tree of codes.

    Studies are coded with its codes (`Study.codes`); the map's settings offer a code set as a
    filter (`is_filter`) and may segment the bubbles by one (`EvidenceMap.segment_code_set`).
    """

    write_role: ClassVar[str] = "editor"

    evidence_map = models.ForeignKey(EvidenceMap, on_delete=models.CASCADE, related_name="code_sets")
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=50,
        help_text="Names the code set in the API and in the studies CSV, where it is a column "
        "(so it cannot be the name of a filter or of a study's field).",
    )
    description = models.TextField(blank=True)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Identifier in the source system (e.g. EPPI-Reviewer SetId)."
    )
    position = models.PositiveIntegerField(default=0, help_text="Order among the map's code sets.")
    is_filter = models.BooleanField("Offer as a filter", default=False)
    history = HistoricalRecords()
    objects = MultilingualManager()

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["evidence_map", "slug"], name="code_set_unique_slug_per_map"),
            models.UniqueConstraint(fields=["evidence_map", "name"], name="code_set_unique_name_per_map"),
            models.UniqueConstraint(
                fields=["evidence_map", "external_id"],
                condition=~Q(external_id=""),
                name="code_set_external_id_unique_per_map",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from evidence.filters import RESERVED_NAMES  # the filters import this module

        if self.slug in RESERVED_NAMES:
            raise ValidationError({
                "slug": f"“{self.slug}” is reserved: the portal already uses it for a filter, a "
                "query parameter or a column of the studies CSV. Choose another slug, "
                f"for example “{self.slug}-codes”.",
            })


class Code(CheckedText):
    """One code of a code set; codes nest to any depth."""

    write_role: ClassVar[str] = "editor"

    code_set = models.ForeignKey(CodeSet, on_delete=models.CASCADE, related_name="codes")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Identifier in the source system (e.g. EPPI-Reviewer AttributeId)."
    )
    position = models.PositiveIntegerField(default=0, help_text="Order among its siblings.")
    history = HistoricalRecords()
    objects = MultilingualManager()

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code_set", "external_id"],
                condition=~Q(external_id=""),
                name="code_external_id_unique_per_set",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="code_not_own_parent"),
        ]
        indexes = [models.Index(fields=["code_set", "parent"])]

    def __str__(self) -> str:
        # Codes of different sets share names ("Other"), so the set is part of the name;
        # lists that show many codes select the set with them.
        return f"{self.code_set.name}: {self.name}"

    def clean(self) -> None:
        check_parent(self, "code_set_id", owner="code set", kind="code")


class CellSummary(CheckedText):
    """What reviewers write about one cell; the numbers are always computed, never typed."""

    write_role: ClassVar[str] = "editor"

    evidence_map = models.ForeignKey(EvidenceMap, on_delete=models.CASCADE, related_name="cell_summaries")
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="cell_summaries")
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="cell_summaries")
    headline = models.TextField(blank=True)
    short_summary = models.TextField(blank=True, help_text="Markdown.")
    about_intervention = models.TextField("The intervention", blank=True, help_text="Markdown.")
    mechanism = models.TextField("How the intervention is expected to work", blank=True, help_text="Markdown.")
    evidence_base = models.TextField("The evidence base", blank=True, help_text="Markdown.")
    findings = models.TextField("Evidence findings", blank=True, help_text="Markdown.")
    confidence_assessment = models.TextField("Confidence assessment", blank=True, help_text="Markdown.")
    confidence_override = models.CharField(
        max_length=8, choices=Confidence.choices, blank=True,
        help_text="Leave empty to use the computed rating.",
    )
    override_justification = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()
    objects = MultilingualManager()

    class Meta:
        verbose_name_plural = "cell summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["evidence_map", "intervention", "outcome"], name="one_summary_per_cell"
            ),
            models.CheckConstraint(
                condition=Q(confidence_override="") | ~Q(override_justification=""),
                name="override_needs_justification",
            ),
            models.CheckConstraint(
                condition=Q(confidence_override__in=["", *Confidence.values]),
                name="override_level_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.intervention} × {self.outcome}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.confidence_override and not self.override_justification.strip():
            errors["override_justification"] = "Say why the computed confidence rating is overridden."
        if self.intervention_id and self.intervention.evidence_map_id != self.evidence_map_id:
            errors["intervention"] = "This intervention belongs to another map."
        if self.outcome_id and self.outcome.evidence_map_id != self.evidence_map_id:
            errors["outcome"] = "This outcome belongs to another map."
        if errors:
            raise ValidationError(errors)


class Role(models.IntegerChoices):
    """A member's role on a map; each role may do what the roles before it may."""

    VIEWER = 10, "Viewer"
    REVIEWER = 20, "Reviewer"
    EDITOR = 30, "Editor"
    PUBLISHER = 40, "Publisher"

    @classmethod
    def named(cls, name: str) -> Role:
        return cls[name.upper()]


class MapMembership(models.Model):
    """A user's role on one map (evidence.roles decides what each role may do)."""

    write_role: ClassVar[str] = "publisher"

    evidence_map = models.ForeignKey(EvidenceMap, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="map_memberships")
    role = models.PositiveSmallIntegerField(
        choices=Role.choices, default=Role.VIEWER,
        help_text="Viewer: sees the map's drafts. Reviewer: also enters and edits studies and effect "
        "sizes. Editor: also the framework, cell summaries and code sets. Publisher: also publishes "
        "and unpublishes studies and the map, and manages its members.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["evidence_map", "user"]
        constraints = [
            models.UniqueConstraint(fields=["evidence_map", "user"], name="one_role_per_user_and_map"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_role_display()} of {self.evidence_map}"


def register_account_history() -> None:
    """Users and groups keep history too (who changed a user's groups, permissions, staff or
    active flags, and when), stored with the map's history in this app. Passwords and last
    logins are left out: a hash is no one's business, and a login is not a change."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from simple_history import register
    from simple_history.exceptions import MultipleRegistrationsError

    try:
        register(get_user_model(), app="evidence", excluded_fields=["password", "last_login"],
                 m2m_fields=["groups", "user_permissions"])
        register(Group, app="evidence", m2m_fields=["permissions"])
    except MultipleRegistrationsError:
        pass


register_account_history()


class ReleaseQuerySet(models.QuerySet["Release"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValidationError("A release is never deleted: readers may have cited it.")


class Release(models.Model):
    """A numbered, dated, immutable snapshot of everything a reader sees of a map.

    `document` is the gzip-compressed canonical JSON built by evidence.releases.snapshot; the
    portal, exports and API read a release by materialising it (evidence.releases.store).
    A release is never changed or deleted on its own; it goes only with its map (the map's
    cascade), since a deleted map has no readers left to cite it.
    """

    evidence_map = models.ForeignKey(EvidenceMap, on_delete=models.CASCADE, related_name="releases")
    number = models.PositiveIntegerField(editable=False)
    released_at = models.DateTimeField(default=timezone.now, editable=False)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    notes = models.TextField(blank=True, help_text="What this release adds or changes. Markdown.")
    search_from = models.DateField(null=True, blank=True, help_text="First date of the searches it covers.")
    search_to = models.DateField(null=True, blank=True, help_text="Last date of the searches it covers.")
    document = models.BinaryField(editable=False)
    document_sha256 = models.CharField(max_length=64, editable=False)
    size_bytes = models.PositiveBigIntegerField(editable=False, help_text="Size of the compressed document.")
    n_studies = models.PositiveIntegerField(default=0, editable=False)
    n_effect_sizes = models.PositiveIntegerField(default=0, editable=False)
    n_cells = models.PositiveIntegerField(default=0, editable=False)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["evidence_map", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["evidence_map", "number"], name="release_number_unique_per_map"),
            models.CheckConstraint(condition=Q(number__gte=1), name="release_number_positive"),
            models.CheckConstraint(
                condition=Q(search_from__isnull=True) | Q(search_to__isnull=True) | Q(search_from__lte=F("search_to")),
                name="release_search_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evidence_map} — release {self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(f"{self} is immutable: a release is never changed once made.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("portal:release", kwargs={"slug": self.evidence_map.slug, "number": self.number})

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError(f"{self} is never deleted: readers may have cited it.")

    def clean(self) -> None:
        if self.search_from and self.search_to and self.search_from > self.search_to:
            raise ValidationError({"search_to": "The searches cannot end before they start."})
