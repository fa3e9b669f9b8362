"""What every family of conversions shares.

Here live the error every conversion raises (`ConversionError`), the two result types
(`Estimate`, one value on its own scale; `EffectEstimate`, what `compute_effect` returns),
the checks of single inputs (`_finite`, `_positive`, `_group_size`, ...), the normal
critical value `z_critical`, Hedges' small-sample correction J, and `Inputs`, the view of a
reviewer's values that the converters of the registry read.

Nothing here knows about a particular kind of reported result; see the family modules
(means, binary, correlations, reported) for the conversions and registry.py for the kinds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from scipy import stats

__all__ = [
    "CI_BOUND",
    "G_BOUND",
    "NATIVE_METRICS",
    "VAR_G_MAX",
    "VAR_G_MIN",
    "ConversionError",
    "Correction",
    "EffectEstimate",
    "Estimate",
    "Inputs",
    "Values",
    "ci_level",
    "j_approx",
    "j_exact",
    "normal_quantile",
    "small_sample_correction",
    "z_critical",
]

Correction = Literal["exact", "approx"]

# What a caller passes to compute_effect: field names to numbers, None for an empty box.
Values = Mapping[str, float | int | None]

NATIVE_METRICS: tuple[str, ...] = ("SMD", "logOR", "logRR", "RD", "COR", "ZCOR")

# The bounds every stored effect size keeps (README, "Bounds"; the methods page; a check
# constraint of studies.EffectSize). A real study's g lies well within ±10 (a g of 10 means
# groups ten standard deviations apart); a variance above 100 (an SE above 10) carries no
# weight worth pooling, and one below 1e-10 (an SE below 1e-5, some 10^10 people per group)
# would weigh so much that it swamps a cell's sums. The 95% interval then lies within
# ±(10 + 1.96·10), so within ±40.
G_BOUND = 10.0
VAR_G_MIN = 1e-10
VAR_G_MAX = 100.0
CI_BOUND = 40.0


class ConversionError(ValueError):
    """A reported value that cannot be turned into an effect size.

    `field` is the name of the input at fault (for `compute_effect`, the Django model's
    field name) and `message` a sentence a reviewer can act on. `fields` names every input
    the message is about: `field` alone, or all the inputs of a result out of bounds, which
    no single one of them is to blame for.
    """

    def __init__(self, field: str, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.fields = fields or (field,)


class Estimate(NamedTuple):
    """An effect size `yi` on its own scale, with its sampling variance `vi`."""

    yi: float
    vi: float

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)


@dataclass(frozen=True)
class EffectEstimate:
    """One study's effect as Hedges' g (what the map pools) plus its native metric.

    `native_metric` is one of NATIVE_METRICS; for inputs that are already standardized
    mean differences it is "SMD" and the native values equal g and its variance.
    `note` says in words how g was obtained, for the study page.
    """

    g: float
    vg: float
    native_metric: str
    native_yi: float
    native_vi: float
    note: str = ""

    @property
    def se_g(self) -> float:
        return math.sqrt(self.vg)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Normal (Wald) interval g ± z·SE; `level` is a proportion here, e.g. 0.95."""
        if not 0 < level < 1:
            raise ValueError(f"level must be a proportion between 0 and 1 (got {level})")
        half_width = normal_quantile(0.5 + level / 2.0) * self.se_g
        return (self.g - half_width, self.g + half_width)


# --------------------------------------------------------------------------------------
# Input checks.  Each names the parameter so the caller's error points at the right box.
# --------------------------------------------------------------------------------------


def _show(value: float) -> str:
    """Write a number the way a reviewer typed it: -1 rather than -1.0."""
    number = float(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _finite(field: str, value: float) -> float:
    if isinstance(value, bool | str | bytes):
        raise ConversionError(field, f"{field} must be a number (got {value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConversionError(field, f"{field} must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise ConversionError(field, f"{field} must be a finite number (got {_show(number)})")
    return number


def _positive(field: str, value: float) -> float:
    number = _finite(field, value)
    if number <= 0:
        raise ConversionError(field, f"{field} must be greater than 0 (got {_show(number)})")
    return number


def _whole(field: str, value: float) -> float:
    number = _finite(field, value)
    if not number.is_integer():
        raise ConversionError(field, f"{field} must be a whole number (got {_show(number)})")
    return number


def _group_size(field: str, value: float) -> float:
    number = _whole(field, value)
    if number < 2:
        raise ConversionError(field, f"{field} must be at least 2 (got {_show(number)})")
    return number


def _open_interval(field: str, value: float, low: float, high: float) -> float:
    number = _finite(field, value)
    if not low < number < high:
        raise ConversionError(
            field,
            f"{field} must be between {_show(low)} and {_show(high)}, exclusive "
            f"(got {_show(number)})",
        )
    return number


def _level(field: str, value: float) -> float:
    """A confidence level in percent.  Values of 1 or less are almost surely proportions
    (0.95 meant as 95%), which would silently give absurd standard errors, so refuse them."""
    number = _finite(field, value)
    if not 1 < number < 100:
        raise ConversionError(
            field,
            f"{field} must be a percentage between 1 and 100, such as 95 (got {_show(number)})",
        )
    return number


def z_critical(level: float = 95.0) -> float:
    """Two-sided normal critical value for a `level` percent interval (1.96 for 95)."""
    checked = _level("level", level)
    return normal_quantile(0.5 + checked / 200.0)


@functools.lru_cache(maxsize=64)
def normal_quantile(p: float) -> float:
    """The standard normal's p-quantile; cached, since every effect size asks for the same few
    (a call into scipy costs more than the rest of a conversion)."""
    return float(stats.norm.ppf(p))


# --------------------------------------------------------------------------------------
# Hedges' small-sample correction J (Hedges 1981; Borenstein 4.22-4.24)
# --------------------------------------------------------------------------------------


def j_exact(df: float) -> float:
    """Hedges' (1981) exact bias correction J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)).

    Computed through log-gamma so large df do not overflow.  J is 0 at m = 1 and
    undefined below; metafor returns NA for m ≤ 1, so we refuse it too.
    """
    m = _finite("df", df)
    if m <= 1:
        raise ConversionError("df", f"df must be greater than 1 (got {_show(m)})")
    log_j = math.lgamma(m / 2) - 0.5 * math.log(m / 2) - math.lgamma((m - 1) / 2)
    return math.exp(log_j)


def j_approx(df: float) -> float:
    """The usual approximation J ≈ 1 - 3/(4m - 1) (Borenstein eq. 4.22; Hedges 1981)."""
    m = _finite("df", df)
    if m < 1:
        raise ConversionError("df", f"df must be at least 1 (got {_show(m)})")
    return 1.0 - 3.0 / (4.0 * m - 1.0)


def small_sample_correction(df: float, correction: Correction = "exact") -> float:
    """J for `df` degrees of freedom, exact (metafor's choice) or approximate."""
    if correction == "exact":
        return j_exact(df)
    if correction == "approx":
        return j_approx(df)
    raise ConversionError("correction", f'correction must be "exact" or "approx" (got {correction!r})')


def _g_from_d(d: Estimate, df: float | None) -> tuple[float, float]:
    """g = J·d, var(g) = J²·var(d) (Borenstein 4.23-4.24); J = 1 when df is unknown."""
    j = 1.0 if df is None else j_exact(df)
    return j * d.yi, j * j * d.vi


# --------------------------------------------------------------------------------------
# What a converter of the registry reads
# --------------------------------------------------------------------------------------


class Inputs:
    """One effect size's reported values, as the converter of its input kind sees them.

    The registry builds it after checking that every required field of the kind is
    present and a finite number, in the kind's declared order; `inputs["n_1"]` returns
    such a field as a float.  `inputs.optional("ci_level")` reads an optional field: None
    when empty, else checked finite.  Asking for a field that the kind does not declare
    (required for `[]`, optional for `optional`) is a programming error and raises
    KeyError, so a converter cannot read a box the registry does not list for its kind.
    """

    __slots__ = ("_optional", "_required", "_values")

    def __init__(
        self, required: Mapping[str, float], values: Values, optional: tuple[str, ...] = ()
    ) -> None:
        self._required = dict(required)
        self._values = values
        self._optional = optional

    def __getitem__(self, field: str) -> float:
        try:
            return self._required[field]
        except KeyError:
            raise KeyError(f"{field!r} is not a required input of this kind") from None

    def optional(self, field: str) -> float | None:
        if field not in self._optional:
            raise KeyError(f"{field!r} is not an optional input of this kind")
        value = self._values.get(field)
        return None if value is None else _finite(field, value)


def ci_level(inputs: Inputs) -> float:
    """The optional `ci_level` of a kind with a confidence interval: 95 when empty."""
    level = inputs.optional("ci_level")
    return 95.0 if level is None else _level("ci_level", level)
