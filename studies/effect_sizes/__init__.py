"""Convert what a study reports into Hedges' g and its sampling variance.

Pure functions (math and scipy only, no Django) so that the conversions can be checked
against R's metafor (tests/data/metafor/conversions.json) without a database.  The package
is split by family of inputs:

* common.py: ConversionError, the result types, checks of single inputs, z and J;
* means.py: standardized mean differences from means, t, F or d;
* binary.py: 2x2 tables, odds and risk ratios, risk differences, log OR <-> d;
* correlations.py: r, Fisher's z, r <-> d;
* reported.py: estimates reported with a standard error, an interval or a p-value;
* registry.py: every input kind and input field declared once, and `compute_effect`.

Conventions used throughout:

* Group 1 is the intervention group and group 2 the comparison group, so a positive g,
  log odds ratio or risk difference means the intervention group scored higher or had
  more events.  Whether that is good news is decided later, by the outcome's desirable
  direction (see evidence.stats.interpret).
* Confidence levels given as input (`level`, `ci_level`) are percentages, as in metafor
  and as reviewers type them: 95, not 0.95.
* Every invalid input raises `ConversionError`, which names the offending input and says
  in plain words what is wrong, so the admin can show the message next to the field.

Main sources: Borenstein, Hedges, Higgins & Rothstein (2009) *Introduction to
Meta-Analysis*, chapters 4-7 (equation numbers in the modules refer to it); Hedges (1981)
for the exact small-sample correction; Viechtbauer's metafor `escalc()` documentation for
its defaults (exact J, vtype "LS", adding 1/2 to tables with a zero cell).
"""

from .binary import LogOddsMethod as LogOddsMethod
from .binary import (
    d_to_log_odds_ratio,
    log_odds_ratio,
    log_odds_ratio_to_d,
    log_risk_ratio,
    log_risk_ratio_to_log_odds_ratio,
    risk_difference,
)
from .common import (
    CI_BOUND,
    G_BOUND,
    NATIVE_METRICS,
    VAR_G_MAX,
    VAR_G_MIN,
    ConversionError,
    EffectEstimate,
    Estimate,
    j_approx,
    j_exact,
    small_sample_correction,
    z_critical,
)
from .common import Correction as Correction
from .correlations import correlation, d_to_r, fisher_z, fisher_z_to_r, r_to_d
from .means import (
    SmdResult,
    d_variance,
    mean_difference,
    pooled_sd,
    smd_from_d,
    smd_from_f,
    smd_from_means,
    smd_from_t,
)
from .means import VarianceType as VarianceType
from .registry import INPUT_KINDS, OPTIONAL_INPUTS, compute_effect
from .reported import estimate_from_ci, ratio_from_ci, se_from_ci, se_from_p

__all__ = [
    "CI_BOUND",
    "G_BOUND",
    "INPUT_KINDS",
    "NATIVE_METRICS",
    "OPTIONAL_INPUTS",
    "VAR_G_MAX",
    "VAR_G_MIN",
    "ConversionError",
    "EffectEstimate",
    "Estimate",
    "SmdResult",
    "compute_effect",
    "correlation",
    "d_to_log_odds_ratio",
    "d_to_r",
    "d_variance",
    "estimate_from_ci",
    "fisher_z",
    "fisher_z_to_r",
    "j_approx",
    "j_exact",
    "log_odds_ratio",
    "log_odds_ratio_to_d",
    "log_risk_ratio",
    "log_risk_ratio_to_log_odds_ratio",
    "mean_difference",
    "pooled_sd",
    "r_to_d",
    "ratio_from_ci",
    "risk_difference",
    "se_from_ci",
    "se_from_p",
    "small_sample_correction",
    "smd_from_d",
    "smd_from_f",
    "smd_from_means",
    "smd_from_t",
    "z_critical",
]
