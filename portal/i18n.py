"""The interface's words for what the lower layers say in English (README, "Languages").

The statistics and synthesis layers, the choices of the models and the filters speak
English, which the API and the downloads keep. The portal shows them in the reader's
language: `say` translates a phrase (evidence.stats.phrases) with its parameters, or a fixed
English text such as a label or a choice, through the catalogue. The fixed texts that are
made up at run time (the effect labels, the band names) are listed below so that
`makemessages` puts them in the catalogue; tests/portal/test_i18n.py checks that every label
the presets can give is listed.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop

from evidence.stats.phrases import Phrase
from evidence.synthesis.presenter import say_reason


def say(text: Any) -> str:
    """`text` in the active language: a phrase with its parameters said too
    (evidence.synthesis.presenter.say_reason), else the catalogue's translation of the text
    (itself when it has none)."""
    if isinstance(text, Phrase):
        return say_reason(text)
    if isinstance(text, str):
        return gettext(text) if text else text
    return str(text)


# Effect labels (evidence.stats.interpret.effect_label), band names in a sentence and the
# confidence levels, as the presets and the rules make them.
LABELS = (
    gettext_noop("No effect"),
    gettext_noop("Negligible effect"), gettext_noop("Negligible negative effect"),
    gettext_noop("Very small effect"), gettext_noop("Very small negative effect"),
    gettext_noop("Small effect"), gettext_noop("Small negative effect"),
    gettext_noop("Moderate effect"), gettext_noop("Moderate negative effect"),
    gettext_noop("Medium effect"), gettext_noop("Medium negative effect"),
    gettext_noop("Large effect"), gettext_noop("Large negative effect"),
    gettext_noop("Negligible"), gettext_noop("Very small"), gettext_noop("Small"), gettext_noop("Moderate"),
    gettext_noop("Medium"), gettext_noop("Large"),
    gettext_noop("negligible"), gettext_noop("very small"), gettext_noop("small"), gettext_noop("moderate"),
    gettext_noop("medium"), gettext_noop("large"),
    gettext_noop("high"), gettext_noop("medium"), gettext_noop("low"),
    gettext_noop("study design"), gettext_noop("region"), gettext_noop("study confidence"),
    gettext_noop("publication year"),
    gettext_noop("High confidence"), gettext_noop("Medium confidence"), gettext_noop("Low confidence"),
)
# The models' choices and the filters' labels, which stay English in the API and the files.
CHOICES = (
    gettext_noop("Africa"), gettext_noop("Americas"), gettext_noop("Asia"), gettext_noop("Europe"),
    gettext_noop("Oceania"), gettext_noop("Global"),
    gettext_noop("Randomised controlled trial"), gettext_noop("Regression discontinuity"),
    gettext_noop("Interrupted time series"), gettext_noop("Instrumental variables"),
    gettext_noop("Difference-in-differences"), gettext_noop("Matching"), gettext_noop("Other quasi-experimental"),
    gettext_noop("Qualitative"), gettext_noop("Mixed methods"), gettext_noop("Systematic review"),
    gettext_noop("Other"),
    gettext_noop("High"), gettext_noop("Medium"), gettext_noop("Low"),
    gettext_noop("The design supports a causal claim"),
    gettext_noop("Comparison groups are comparable or confounding is addressed"),
    gettext_noop("Attrition and missing data are low or handled"),
    gettext_noop("Outcomes are measured validly and reliably"),
    gettext_noop("The statistical analysis is appropriate"),
    gettext_noop("Contamination and spill-overs are unlikely or addressed"),
    gettext_noop("Results are reported completely"),
    gettext_noop("Yes"), gettext_noop("Partly"), gettext_noop("No"), gettext_noop("Unclear"),
    gettext_noop("Not applicable"),
    gettext_noop("Study design"), gettext_noop("Region"), gettext_noop("Study confidence"),
    gettext_noop("Publication year"),
    gettext_noop("Country"), gettext_noop("Population"), gettext_noop("Published from"),
    gettext_noop("Published up to"), gettext_noop("Search titles, authors and abstracts"),
    gettext_noop("Has effect sizes"), gettext_noop("Appraised"), gettext_noop("Codes"),
    gettext_noop("yes"), gettext_noop("no"), gettext_noop("Any"),
    # The input kinds of effect sizes (studies.effect_sizes.registry).
    gettext_noop('Means, SDs and group sizes'),
    gettext_noop('2×2 counts (events and group sizes)'),
    gettext_noop('Odds ratio with confidence interval'),
    gettext_noop('Risk ratio with confidence interval'),
    gettext_noop('t statistic with group sizes'),
    gettext_noop('F(1, df) with group sizes'),
    gettext_noop('Correlation r with sample size'),
    gettext_noop("Hedges' g with its standard error"),
    gettext_noop("Hedges' g with its confidence interval"),
    gettext_noop("Hedges' g with its p-value"),
    # The input fields of effect sizes, as the study page names them (studies.models.EffectSize).
    gettext_noop("mean 1"), gettext_noop("mean 2"), gettext_noop("SD 1"), gettext_noop("SD 2"),
    gettext_noop("events 1"), gettext_noop("events 2"), gettext_noop("ratio"), gettext_noop("CI low"),
    gettext_noop("CI high"), gettext_noop("CI level (%)"), gettext_noop("baseline risk"), gettext_noop("direction"),
    gettext_noop("total n"), gettext_noop("Hedges' g (reported)"), gettext_noop("SE (reported)"),
    # The pooling settings (evidence.models.PoolingMethod, PoolingTest).
    gettext_noop("Restricted maximum likelihood (REML)"), gettext_noop("Maximum likelihood"),
    gettext_noop("Empirical Bayes"), gettext_noop("Equal effects (fixed effect)"),
    gettext_noop("z test (normal)"), gettext_noop("t test (k - 1 df)"),
)
