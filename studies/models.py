"""What reviewers enter: studies, their coding and appraisal, and effect sizes."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from studies import lookups  # noqa: F401  (registers the field__in_ids lookup)
from studies.effect_sizes import CI_BOUND, G_BOUND, VAR_G_MAX, VAR_G_MIN, ConversionError
from studies.effect_sizes.registry import (
    INPUT_FIELDS,
    INPUT_KIND_SPECS,
    INPUT_KINDS,
    accepted_fields,
    compute_effect,
)
from studies.m49 import COUNTRY_SUBREGION, SUBREGIONS

DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")


def normalise_doi(raw: str) -> str:
    """Strip resolver prefixes and whitespace; DOIs are case-insensitive, so store them lower-case."""
    doi = raw.strip()
    for prefix in _DOI_PREFIXES:
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix):]
            break
    return doi.strip().lower()


def validate_doi(value: str) -> None:
    if value and not DOI_PATTERN.match(normalise_doi(value)):
        raise ValidationError(
            f"{value!r} is not a DOI; a DOI looks like 10.1234/abcd (with or without https://doi.org/).",
            code="invalid_doi",
        )


def validate_not_future_year(value: int) -> None:
    if value > date.today().year:
        raise ValidationError(f"The year {value} is in the future.", code="future_year")


class Region(models.TextChoices):
    AFRICA = "Africa"
    AMERICAS = "Americas"
    ASIA = "Asia"
    EUROPE = "Europe"
    OCEANIA = "Oceania"
    GLOBAL = "Global"


SUBREGION_TO_REGION = {sub: region for region, subs in SUBREGIONS.items() for sub in subs}


def region_for(countries: list[str], *, is_global: bool = False) -> str:
    """UN M49 region of a set of countries: "Global" for a global study or several regions."""
    if is_global:
        return Region.GLOBAL
    regions = {SUBREGION_TO_REGION[COUNTRY_SUBREGION[c]] for c in countries if c in COUNTRY_SUBREGION}
    if len(regions) > 1:
        return Region.GLOBAL
    return regions.pop() if regions else ""


class StudyDesign(models.TextChoices):
    RCT = "rct", "Randomised controlled trial"
    RDD = "rdd", "Regression discontinuity"
    ITS = "its", "Interrupted time series"
    IV = "iv", "Instrumental variables"
    DID = "did", "Difference-in-differences"
    MATCHING = "matching", "Matching"
    OTHER_QED = "other_qed", "Other quasi-experimental"
    QUALITATIVE = "qualitative", "Qualitative"
    MIXED = "mixed", "Mixed methods"
    SYSTEMATIC_REVIEW = "systematic_review", "Systematic review"
    OTHER = "other", "Other"


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class EffectDirection(models.IntegerChoices):
    """The sign of an effect reported as an F statistic (which has none of its own)."""

    FAVOURS_INTERVENTION = 1, "Favours intervention (+)"
    FAVOURS_COMPARISON = -1, "Favours comparison (−)"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


def _is_member_capable(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def draft_maps(user: object) -> Any:
    """The ids of the maps whose drafts `user` sees, as a subquery: the maps where the user has
    a role (evidence.MapMembership; any role sees drafts). None means every map (superusers)."""
    if getattr(user, "is_superuser", False) and _is_member_capable(user):
        return None
    # evidence.EvidenceMap, reached through the relation: studies imports no other app.
    map_model: Any = Study._meta.get_field("evidence_map").related_model
    if not _is_member_capable(user):
        return map_model._default_manager.none().values("pk")
    return map_model._default_manager.filter(memberships__user=user).values("pk")


def can_see_drafts(user: object, evidence_map: object = None) -> bool:
    """Whether `user` sees drafts: of `evidence_map` when given, else of at least one map.
    Anonymous readers never do; superusers always do; others by their role on the map."""
    if not _is_member_capable(user):
        return False
    if getattr(user, "is_superuser", False):
        return True
    maps = draft_maps(user)
    if evidence_map is not None:
        maps = maps.filter(pk=getattr(evidence_map, "pk", evidence_map))
    return bool(maps.exists())


# The one visibility rule. Readers see published studies of published maps; a member of a map
# (any role) sees its drafts too, a superuser every map's. Pooled numbers use published
# studies only, whoever asks (`published()`), so that a cell means the same for every reader.


# Citation order, one definition for every list: authors, then year with undated works (n.d.)
# last on every database (SQLite would put NULL first), then id.
CITATION_ORDER = ("authors", F("year").asc(nulls_last=True), "pk")
EFFECT_CITATION_ORDER = ("study__authors", F("study__year").asc(nulls_last=True), "study_id", "pk")


class StudyQuerySet(models.QuerySet["Study"]):
    def published(self) -> StudyQuerySet:
        return self.filter(status=Status.PUBLISHED)

    def visible_to(self, user: object) -> StudyQuerySet:
        public = Q(status=Status.PUBLISHED, evidence_map__is_published=True)
        maps = draft_maps(user)
        return self if maps is None else self.filter(public | Q(evidence_map__in=maps))


class EffectSizeQuerySet(models.QuerySet["EffectSize"]):
    def published(self) -> EffectSizeQuerySet:
        return self.filter(study__status=Status.PUBLISHED)

    def visible_to(self, user: object) -> EffectSizeQuerySet:
        public = Q(study__status=Status.PUBLISHED, study__evidence_map__is_published=True)
        maps = draft_maps(user)
        return self if maps is None else self.filter(public | Q(study__evidence_map__in=maps))


# Longest free text a reviewer or a file may give: an abstract of 20,000 characters is some
# 3,000 words, far beyond any journal's limit; notes and keywords are shorter.
ABSTRACT_MAX = 20_000
NOTE_MAX = 5_000

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def text_problem(value: str) -> str:
    """Why a text cannot be stored (empty when it can): databases refuse NUL, and a lone
    surrogate (from a JSON escape such as \\ud800) is not text at all."""
    if "\x00" in value:
        return "Contains a NUL character (\\x00), which cannot be stored; remove it."
    found = _SURROGATE.search(value)
    if found:
        return f"Contains a lone surrogate (U+{ord(found.group()):04X}), which is not text; remove it."
    return ""


class CheckedText(models.Model):
    """Every text field of the model is checked by `text_problem` in full_clean(), so the admin,
    the API and the importers refuse a NUL or a lone surrogate on its field, as they do any other
    invalid value, instead of failing in the database."""

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        errors: dict[str, list[ValidationError]] = {}
        for field in self._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField) or (exclude and field.name in exclude):
                continue
            value = getattr(self, field.attname)
            problem = text_problem(value) if isinstance(value, str) else ""
            if problem:
                errors[field.name] = [ValidationError(problem, code="not_text")]
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class Study(CheckedText):
    """One included study, coded against a map's interventions and outcomes."""

    # The role on its map that writing it needs, and the field only a publisher changes
    # (studies.services checks both).
    write_role: ClassVar[str] = "reviewer"
    publish_field: ClassVar[str] = "status"

    evidence_map = models.ForeignKey("evidence.EvidenceMap", on_delete=models.CASCADE, related_name="studies")
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Identifier in the source system (e.g. EPPI-Reviewer ItemId)."
    )
    authors = models.CharField(
        max_length=1000, blank=True,
        help_text='Surname and initials, separated by ";". Empty for a work without a named author.',
    )
    year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1900), validate_not_future_year],
        help_text="Year of publication; empty when the source does not give one (cited as n.d.).",
    )
    title = models.CharField(max_length=1000)
    short_title = models.CharField(
        max_length=300, blank=True, help_text='The source system\'s short citation, e.g. "Smith (2014)".'
    )
    source = models.CharField(max_length=500, blank=True, help_text="Journal, or report series.")
    volume = models.CharField(max_length=50, blank=True)
    issue = models.CharField(max_length=50, blank=True)
    pages = models.CharField(max_length=50, blank=True)
    doi = models.CharField("DOI", max_length=255, blank=True, validators=[validate_doi])
    url = models.URLField("URL", max_length=1000, blank=True)
    abstract = models.TextField(blank=True, max_length=ABSTRACT_MAX, validators=[MaxLengthValidator(ABSTRACT_MAX)])
    keywords = models.TextField(
        blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)],
        help_text="One keyword or phrase per line.",
    )
    countries = CountryField(multiple=True, blank=True)
    is_global = models.BooleanField("Global study", default=False)
    region = models.CharField(
        max_length=16, choices=Region.choices, blank=True, editable=False,
        help_text="Derived from the countries (UN M49); Global for several regions.",
    )
    population = models.CharField(max_length=200, blank=True)
    design = models.CharField(max_length=32, choices=StudyDesign.choices)
    confidence = models.CharField(
        "Study confidence", max_length=8, choices=Confidence.choices, blank=True,
        help_text="Appraised confidence in the study's findings; empty until appraised.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    interventions = models.ManyToManyField("evidence.Intervention", related_name="studies", blank=True)
    outcomes = models.ManyToManyField("evidence.Outcome", related_name="studies", blank=True)
    codes = models.ManyToManyField(
        "evidence.Code", related_name="studies", blank=True, help_text="Codes of the map's code sets."
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(m2m_fields=[interventions, outcomes, codes])

    objects = StudyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["authors", F("year").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence_map", "doi"], condition=~Q(doi=""), name="study_doi_unique_per_map"
            ),
            models.UniqueConstraint(
                fields=["evidence_map", "external_id"],
                condition=~Q(external_id=""),
                name="study_external_id_unique_per_map",
            ),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | (Q(year__gte=1900) & Q(year__lte=2100)), name="study_year_plausible"
            ),
            models.CheckConstraint(condition=Q(design__in=StudyDesign.values), name="study_design_valid"),
            models.CheckConstraint(
                condition=Q(confidence__in=["", *Confidence.values]), name="study_confidence_valid"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="study_status_valid"),
            models.CheckConstraint(condition=Q(region__in=["", *Region.values]), name="study_region_valid"),
        ]
        # The map's filters: each narrows a map's studies (countries are matched as text).
        indexes = [
            models.Index(fields=["evidence_map", "status", "year"]),
            models.Index(fields=["evidence_map", "design"]),
            models.Index(fields=["evidence_map", "region"]),
            models.Index(fields=["evidence_map", "confidence"]),
            models.Index(fields=["evidence_map", "population"]),
        ]

    def __str__(self) -> str:
        return f"{self.short_citation}: {self.title}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.derive()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("portal:study", kwargs={"slug": self.evidence_map.slug, "pk": self.pk})

    def derive(self) -> None:
        """Set the derived state (region from the countries, the DOI's normal form). save()
        calls it on every save so it never drifts; bulk writers, which skip save(), call it."""
        self.region = region_for([str(c) for c in self.countries], is_global=self.is_global)
        if self.doi:
            self.doi = normalise_doi(self.doi)

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def first_author_surname(self) -> str:
        first = self.authors.split(";")[0].strip()
        return first.split(",")[0].strip() if "," in first else first.split(" ")[0]

    @property
    def year_text(self) -> str:
        """The year as a citation shows it: "n.d." (no date) when the study has none."""
        return "n.d." if self.year is None else str(self.year)

    @property
    def short_citation(self) -> str:
        """ "Myrick (2021)", "Smith et al. (2014)" with three or more authors; a work without
        a named author is cited by the first words of its title, as APA does."""
        names = [a for a in self.authors.split(";") if a.strip()]
        year = self.year_text
        if not names:
            words = self.title.split()
            lead = " ".join(words[:4]) + ("…" if len(words) > 4 else "")
            return f"“{lead}” ({year})"
        surname = self.first_author_surname
        if len(names) == 2:
            second = names[1].strip()
            second = second.split(",")[0].strip() if "," in second else second.split(" ")[0]
            return f"{surname} and {second} ({year})"
        if len(names) > 2:
            return f"{surname} et al. ({year})"
        return f"{surname} ({year})"

    def clean(self) -> None:
        if self.doi:
            self.doi = normalise_doi(self.doi)


class AppraisalCriterion(models.TextChoices):
    DESIGN = "design", "The design supports a causal claim"
    COMPARABILITY = "comparability", "Comparison groups are comparable or confounding is addressed"
    ATTRITION = "attrition", "Attrition and missing data are low or handled"
    MEASUREMENT = "measurement", "Outcomes are measured validly and reliably"
    ANALYSIS = "analysis", "The statistical analysis is appropriate"
    SPILLOVER = "spillover", "Contamination and spill-overs are unlikely or addressed"
    REPORTING = "reporting", "Results are reported completely"


class AppraisalRating(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"
    UNCLEAR = "unclear", "Unclear"
    NOT_APPLICABLE = "na", "Not applicable"


class AppraisalItem(CheckedText):
    """One item of the critical appraisal that a study's confidence rating rests on."""

    write_role: ClassVar[str] = "reviewer"


    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="appraisal_items")
    criterion = models.CharField(max_length=32, choices=AppraisalCriterion.choices)
    rating = models.CharField(max_length=16, choices=AppraisalRating.choices)
    note = models.TextField(blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)])
    history = HistoricalRecords()

    class Meta:
        ordering = ["criterion"]
        constraints = [
            models.UniqueConstraint(fields=["study", "criterion"], name="appraisal_one_rating_per_criterion"),
            models.CheckConstraint(condition=Q(criterion__in=AppraisalCriterion.values), name="appraisal_criterion_valid"),
            models.CheckConstraint(condition=Q(rating__in=AppraisalRating.values), name="appraisal_rating_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_criterion_display()}: {self.get_rating_display()}"


# What a study reports, one choice per kind of studies.effect_sizes.registry, with the same
# members as a hand-written class would have: InputKind.MEANS == "means", and so on.
# (django-stubs does not type the functional form of TextChoices, hence the ignore.)
InputKind = models.TextChoices(  # type: ignore[call-overload]
    "InputKind", [(spec.member, (spec.name, spec.label)) for spec in INPUT_KIND_SPECS.values()]
)

# INPUT_FIELDS (every numeric input field, in the order the admin shows them) and
# accepted_fields (the fields an input kind reads) come from the same registry.


def _null_or(field: str, condition: Q) -> Q:
    return Q(**{f"{field}__isnull": True}) | condition


def _check(name: str, condition: Q, message: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=message)


class EffectSize(CheckedText):
    """One effect estimate: the reviewer's input and the Hedges' g computed from it on save."""

    write_role: ClassVar[str] = "reviewer"


    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="effect_sizes")
    intervention = models.ForeignKey("evidence.Intervention", on_delete=models.PROTECT, related_name="effect_sizes")
    outcome = models.ForeignKey("evidence.Outcome", on_delete=models.PROTECT, related_name="effect_sizes")
    label = models.CharField(max_length=300, help_text='e.g. "campaign vs comparison, 2015 cohort".')
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Identifier in the source system (e.g. EPPI-Reviewer OutcomeId)."
    )
    input_kind = models.CharField(max_length=16, choices=InputKind.choices)

    # group 1 = intervention, group 2 = comparison
    mean_1 = models.FloatField(null=True, blank=True)
    sd_1 = models.FloatField("SD 1", null=True, blank=True)
    n_1 = models.PositiveIntegerField("n 1", null=True, blank=True)
    mean_2 = models.FloatField(null=True, blank=True)
    sd_2 = models.FloatField("SD 2", null=True, blank=True)
    n_2 = models.PositiveIntegerField("n 2", null=True, blank=True)
    events_1 = models.PositiveIntegerField(null=True, blank=True)
    events_2 = models.PositiveIntegerField(null=True, blank=True)
    ratio = models.FloatField(null=True, blank=True, help_text="Odds ratio or risk ratio.")
    ci_low = models.FloatField("CI low", null=True, blank=True)
    ci_high = models.FloatField("CI high", null=True, blank=True)
    ci_level = models.FloatField("CI level (%)", null=True, blank=True, help_text="Default 95.")
    baseline_risk = models.FloatField(null=True, blank=True, help_text="Comparison-group risk (0-1), for risk ratios.")
    t_value = models.FloatField("t", null=True, blank=True)
    f_value = models.FloatField("F", null=True, blank=True)
    direction = models.SmallIntegerField(
        null=True, blank=True, choices=EffectDirection.choices,
        help_text="Sign of the effect, for an F statistic.",
    )
    r_value = models.FloatField("r", null=True, blank=True)
    n_total = models.PositiveIntegerField("total n", null=True, blank=True)
    es_value = models.FloatField("Hedges' g (reported)", null=True, blank=True)
    es_se = models.FloatField("SE (reported)", null=True, blank=True)
    p_value = models.FloatField("p", null=True, blank=True)

    # Computed on save from the input above; the map reads these and never reconverts.
    g = models.FloatField(editable=False, blank=True)
    var_g = models.FloatField(editable=False, blank=True)
    se_g = models.FloatField(editable=False, blank=True)
    ci_low_g = models.FloatField(editable=False, blank=True)
    ci_high_g = models.FloatField(editable=False, blank=True)
    native_metric = models.CharField(max_length=8, editable=False, blank=True)
    native_yi = models.FloatField(editable=False, blank=True)
    native_vi = models.FloatField(editable=False, blank=True)
    conversion_note = models.CharField(max_length=500, editable=False, blank=True)

    notes = models.TextField(blank=True, max_length=NOTE_MAX, validators=[MaxLengthValidator(NOTE_MAX)])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = EffectSizeQuerySet.as_manager()

    class Meta:
        # By the study's id, not its citation: ordering by the study would join and sort
        # every effect size of a map; lists that show citations order explicitly.
        ordering = ["study_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~Q(external_id=""),
                name="es_external_id_unique_per_study",
            ),
            _check("es_input_kind_valid", Q(input_kind__in=InputKind.values), "Unknown input kind."),
            _check("es_variance_positive", Q(var_g__gt=0) & Q(se_g__gt=0), "The variance of g must be positive."),
            # NaN and infinities fail these comparisons too (PostgreSQL sorts NaN above every
            # number; SQLite stores NaN as NULL, which the NOT NULL columns refuse).
            _check(
                "es_computed_within_bounds",
                Q(g__gte=-G_BOUND, g__lte=G_BOUND)
                & Q(var_g__gte=VAR_G_MIN, var_g__lte=VAR_G_MAX)
                & Q(se_g__lte=VAR_G_MAX**0.5)
                & Q(ci_low_g__gte=-CI_BOUND, ci_high_g__lte=CI_BOUND),
                f"g must lie within ±{G_BOUND:g}, its variance between {VAR_G_MIN:g} and {VAR_G_MAX:g} "
                f"and its interval within ±{CI_BOUND:g}.",
            ),
            _check(
                "es_ci_contains_g",
                Q(ci_low_g__lte=F("g")) & Q(g__lte=F("ci_high_g")),
                "The computed interval must contain g.",
            ),
            _check("es_sd_1_positive", _null_or("sd_1", Q(sd_1__gt=0)), "SD 1 must be greater than 0."),
            _check("es_sd_2_positive", _null_or("sd_2", Q(sd_2__gt=0)), "SD 2 must be greater than 0."),
            _check("es_n_1_at_least_2", _null_or("n_1", Q(n_1__gte=2)), "n 1 must be at least 2."),
            _check("es_n_2_at_least_2", _null_or("n_2", Q(n_2__gte=2)), "n 2 must be at least 2."),
            _check("es_n_total_at_least_4", _null_or("n_total", Q(n_total__gte=4)), "The total n must be at least 4."),
            _check(
                "es_events_1_within_group",
                _null_or("events_1", Q(events_1__lte=F("n_1"))),
                "Events in group 1 cannot exceed its size.",
            ),
            _check(
                "es_events_2_within_group",
                _null_or("events_2", Q(events_2__lte=F("n_2"))),
                "Events in group 2 cannot exceed its size.",
            ),
            _check("es_ratio_positive", _null_or("ratio", Q(ratio__gt=0)), "A ratio must be greater than 0."),
            _check(
                "es_r_in_open_interval",
                _null_or("r_value", Q(r_value__gt=-1) & Q(r_value__lt=1)),
                "r must lie strictly between -1 and 1.",
            ),
            _check(
                "es_p_in_open_interval",
                _null_or("p_value", Q(p_value__gt=0) & Q(p_value__lt=1)),
                "p must lie strictly between 0 and 1.",
            ),
            _check(
                "es_ci_level_percent",
                _null_or("ci_level", Q(ci_level__gt=0) & Q(ci_level__lt=100)),
                "The CI level is a percentage between 0 and 100.",
            ),
            _check(
                "es_baseline_risk_in_open_interval",
                _null_or("baseline_risk", Q(baseline_risk__gt=0) & Q(baseline_risk__lt=1)),
                "The baseline risk must lie strictly between 0 and 1.",
            ),
            _check("es_se_positive", _null_or("es_se", Q(es_se__gt=0)), "The SE must be greater than 0."),
            _check("es_f_non_negative", _null_or("f_value", Q(f_value__gte=0)), "F cannot be negative."),
            _check(
                "es_ci_ordered",
                Q(ci_low__isnull=True) | Q(ci_high__isnull=True) | Q(ci_low__lt=F("ci_high")),
                "The lower CI bound must be below the upper bound.",
            ),
        ]
        indexes = [models.Index(fields=["intervention", "outcome"])]

    def __str__(self) -> str:
        return f"{self.study.short_citation}: {self.label}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            study_map_id = self.study.evidence_map_id
        except ObjectDoesNotExist:
            study_map_id = None  # validated again by the service once the study exists
        if study_map_id is not None:
            if self.intervention_id and self.intervention.evidence_map_id != study_map_id:
                errors["intervention"] = "This intervention belongs to another map than the study."
            if self.outcome_id and self.outcome.evidence_map_id != study_map_id:
                errors["outcome"] = "This outcome belongs to another map than the study."
        if self.input_kind not in INPUT_KINDS:
            errors["input_kind"] = "Choose what the study reports."
        if errors:
            raise ValidationError(errors)
        self.compute()

    def reported_inputs(self) -> list[tuple[str, object]]:
        """The input values this effect size was computed from, by their fields' names as shown."""
        fields = {f.name: f for f in self._meta.get_fields() if f.name in INPUT_FIELDS}
        return [
            (str(fields[name].verbose_name), getattr(self, name))  # type: ignore[union-attr]
            for name in accepted_fields(self.input_kind)
            if getattr(self, name) is not None
        ]

    def compute(self) -> None:
        """Convert the reviewer's input to Hedges' g; a bad input raises on its own field."""
        accepted = accepted_fields(self.input_kind)
        unused = {
            f: f"Not used for “{self.get_input_kind_display()}”; leave it empty."
            for f in INPUT_FIELDS
            if f not in accepted and getattr(self, f) is not None
        }
        if unused:
            raise ValidationError(unused)
        try:
            est = compute_effect(self.input_kind, {f: getattr(self, f) for f in accepted})
        except ConversionError as exc:
            named = [f for f in exc.fields if f in INPUT_FIELDS] or ["input_kind"]
            raise ValidationError({f: exc.message for f in named}) from exc
        self.g = est.g
        self.var_g = est.vg
        self.se_g = est.se_g
        self.ci_low_g, self.ci_high_g = est.ci(0.95)
        self.native_metric = est.native_metric
        self.native_yi = est.native_yi
        self.native_vi = est.native_vi
        self.conversion_note = est.note[:500]


