"""Reliability: coefficient alpha and its item statistics, Guttman's lambda 6, split-half
reliability, intraclass correlations and ordinal alpha.

One function per statistic, in the style of pingouin, each agreeing with R's ``psych``:

* :func:`alpha` — ``psych::alpha`` (pairwise-complete covariances, Feldt interval).
* :func:`item_rest_correlation`, :func:`alpha_if_item_dropped` — its ``r.drop`` and
  ``alpha.drop$raw_alpha`` columns.
* :func:`guttman_lambda6` — its ``G6(smc)``.
* :func:`split_half` — ``psych::splitHalf``.
* :func:`icc` — ``psych::ICC`` (Shrout & Fleiss's six forms).
* :func:`ordinal_alpha` — ``psych::alpha(polychoric(x)$rho)``.

Like psych, the covariance matrix is computed pairwise: each pair of items uses the
respondents who answered both, and item means use every available answer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import as_item_frame
from rctscale.psychometrics._result import Result
from rctscale.psychometrics.correlation import _check_pairs, _pairwise_moments, polychoric

__all__ = [
    "AlphaResult",
    "ICCResult",
    "OrdinalAlphaResult",
    "SplitHalfResult",
    "alpha",
    "alpha_if_item_dropped",
    "guttman_lambda6",
    "icc",
    "item_rest_correlation",
    "ordinal_alpha",
    "split_half",
]


# --------------------------------------------------------------------------------------------
# Shared preparation
# --------------------------------------------------------------------------------------------


def _reverse_keyed(
    frame: pd.DataFrame, reverse: list[str] | tuple[str, ...] | None, scale_range: tuple[float, float] | None
) -> tuple[pd.DataFrame, tuple[str, ...], tuple[float, float]]:
    """Reverse the named items as ``low + high - x`` and return the scale's (low, high).

    Without ``scale_range`` the scale is taken as the lowest and highest answer over all
    items, as psych::alpha does: an item nobody answered at the extreme is still reversed
    on the scale it shares with the others.
    """
    if scale_range is None:
        values = frame.to_numpy(dtype=float)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
    else:
        low, high = (float(v) for v in scale_range)
        if not low < high:
            raise AnalysisError(
                f"scale_range must be (lowest, highest) with lowest < highest, got {scale_range}"
            )
        outside = frame.columns[((frame < low) | (frame > high)).any()]
        if len(outside):
            raise AnalysisError(
                f"item '{outside[0]}' has answers outside scale_range {low:g}..{high:g}: "
                "check the data or the range"
            )
    if reverse is None:
        return frame, (), (low, high)
    if isinstance(reverse, str):
        reverse = [reverse]
    reverse = tuple(str(name) for name in reverse)
    unknown = [name for name in reverse if name not in frame.columns]
    if unknown:
        raise AnalysisError(
            f"cannot reverse item(s) {', '.join(repr(u) for u in unknown)}: not among the items "
            f"({', '.join(frame.columns)})"
        )
    flipped = frame.copy()
    for name in reverse:
        flipped[name] = low + high - frame[name]
    return flipped, reverse, (low, high)


def _covariance(frame: pd.DataFrame) -> np.ndarray:
    covariance, _, n_pair = _pairwise_moments(frame.to_numpy(dtype=float))
    _check_pairs(n_pair, list(frame.columns))
    return covariance


def _to_correlation(covariance: np.ndarray) -> np.ndarray:
    # psych 2.2.9 (which produced the reference numbers) takes R = cov2cor(C) of the pairwise
    # covariance, not cor(x, use = "pairwise"); the two differ slightly when answers are missing.
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    np.fill_diagonal(correlation, 1.0)
    return correlation


def _raw_alpha(covariance: np.ndarray) -> float:
    k = covariance.shape[0]
    return k / (k - 1) * (1.0 - np.trace(covariance) / covariance.sum())


def _dropped_alphas(covariance: np.ndarray) -> np.ndarray:
    """Raw alpha of the k-1 remaining items for each dropped item (NaN when k = 2)."""
    k = covariance.shape[0]
    if k < 3:
        return np.full(k, np.nan)
    diagonal = np.diag(covariance)
    remaining_total = covariance.sum() - 2.0 * covariance.sum(axis=0) + diagonal
    remaining_trace = diagonal.sum() - diagonal
    return (k - 1) / (k - 2) * (1.0 - remaining_trace / remaining_total)


def _rest_correlations(covariance: np.ndarray) -> np.ndarray:
    """Correlation of each item with the sum of the other items (psych's r.drop)."""
    diagonal = np.diag(covariance)
    with_rest = covariance.sum(axis=0) - diagonal
    rest_variance = covariance.sum() - 2.0 * covariance.sum(axis=0) + diagonal
    return with_rest / np.sqrt(diagonal * rest_variance)


def _smc(correlation: np.ndarray) -> np.ndarray:
    """Squared multiple correlations, as psych::smc (pseudo-inverse, clamped to [0, 1])."""
    inverse = np.linalg.pinv(correlation, rcond=math.sqrt(np.finfo(float).eps), hermitian=True)
    return np.clip(1.0 - 1.0 / np.diag(inverse), 0.0, 1.0)


def _feldt_interval(value: float, n_obs: int, n_items: int, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    df1, df2 = n_obs - 1, (n_obs - 1) * (n_items - 1)
    lower = 1.0 - (1.0 - value) * stats.f.ppf(1.0 - tail, df1, df2)
    upper = 1.0 - (1.0 - value) * stats.f.ppf(tail, df1, df2)
    return float(lower), float(upper)


def _check_level(ci: float) -> None:
    if not 0.0 < ci < 1.0:
        raise AnalysisError(f"ci is a confidence level between 0 and 1 (e.g. 0.95), got {ci}")


# --------------------------------------------------------------------------------------------
# Coefficient alpha
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaResult(Result):
    """Coefficient alpha with its interval and item statistics (see :func:`alpha`).

    Attributes
    ----------
    alpha : raw alpha from the covariances (psych ``raw_alpha``).
    std_alpha : alpha of the correlation matrix (psych ``std.alpha``).
    average_r : mean inter-item correlation.
    ci : Feldt confidence interval of raw alpha, at level ``ci_level``.
    boot_ci : percentile bootstrap interval of raw alpha, or None when ``n_boot`` was 0.
    n : respondents (rows), as psych counts them for the Feldt interval.
    n_items : items.
    items : one row per item: n (answers), mean, sd, r_drop (item-rest correlation),
        alpha_if_dropped, floor and ceiling (shares of answers at the scale's lowest and
        highest value).
    options : the options used.
    """

    alpha: float
    std_alpha: float
    average_r: float
    ci: tuple[float, float]
    boot_ci: tuple[float, float] | None
    n: int
    n_items: int
    items: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)


def alpha(
    items: pd.DataFrame | np.ndarray,
    reverse: list[str] | None = None,
    ci: float = 0.95,
    n_boot: int = 0,
    seed: int | None = None,
    scale_range: tuple[float, float] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> AlphaResult:
    """Cronbach's coefficient alpha, as ``psych::alpha``.

    With :math:`C` the k x k covariance matrix of the items (pairwise complete) and
    :math:`R` the matching correlation matrix,

    .. math::

        \\alpha = \\frac{k}{k-1}\\Big(1 - \\frac{\\operatorname{tr} C}{\\mathbf 1' C \\mathbf 1}\\Big),
        \\qquad
        \\alpha_{std} = \\frac{k}{k-1}\\Big(1 - \\frac{k}{\\mathbf 1' R \\mathbf 1}\\Big),
        \\qquad
        \\bar r = \\frac{\\mathbf 1' R \\mathbf 1 - k}{k(k-1)}.

    The confidence interval is Feldt's (Feldt, Woodruff & Salih 1987), as psych reports it,
    with n the number of respondents:

    .. math:: \\big[1 - (1-\\alpha) F_{1-a/2}(n-1, (n-1)(k-1)),\\;
                    1 - (1-\\alpha) F_{a/2}(n-1, (n-1)(k-1))\\big].

    With ``n_boot > 0`` a percentile bootstrap interval (respondents resampled with
    replacement, covariances recomputed pairwise) is added; ``seed`` makes it reproducible.

    Parameters
    ----------
    items : DataFrame or 2-D array
        One column per item, one row per respondent; missing answers as NaN.
    reverse : list of str, optional
        Items to reverse-key as ``low + high - x`` before the analysis.
    ci : float
        Confidence level of both intervals.
    n_boot : int
        Bootstrap resamples (0 for none).
    seed : int, optional
        Seed of the bootstrap.
    scale_range : (low, high), optional
        The response scale's lowest and highest values, used to reverse items and for the
        floor/ceiling shares. By default, the lowest and highest answer over all items (psych).
    progress : callable, optional
        Called as ``progress(done, n_boot)`` after each bootstrap resample, so that a caller
        can show how far a long bootstrap has come.

    Returns
    -------
    AlphaResult

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    *Psychometrika*, 16, 297-334.
    Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
    coefficient alpha. *Applied Psychological Measurement*, 11(1), 93-103.
    Revelle, W. psych: ``alpha``.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.reliability import alpha
    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5, 3], "q2": [2, 2, 3, 5, 4, 3],
    ...                    "q3": [1, 3, 3, 4, 5, 2], "q4": [5, 4, 3, 2, 1, 3]})
    >>> res = alpha(df, reverse=["q4"])
    >>> round(res.alpha, 3), round(res.std_alpha, 3)
    (0.964, 0.964)
    >>> res.items["r_drop"].round(2).tolist()
    [0.98, 0.83, 0.88, 0.98]
    """
    _check_level(ci)
    if n_boot < 0:
        raise AnalysisError(f"n_boot is a number of bootstrap resamples (0 for none), got {n_boot}")
    frame = as_item_frame(items)
    frame, reversed_items, (low, high) = _reverse_keyed(frame, reverse, scale_range)
    covariance = _covariance(frame)
    correlation = _to_correlation(covariance)
    n_rows, k = frame.shape

    raw = _raw_alpha(covariance)
    standardized = k / (k - 1) * (1.0 - k / correlation.sum())
    average_r = (correlation.sum() - k) / (k * (k - 1))

    answers = frame.notna().sum()
    table = pd.DataFrame(
        {
            "n": answers.astype(int),
            "mean": frame.mean(),
            "sd": frame.std(ddof=1),
            "r_drop": _rest_correlations(covariance),
            "alpha_if_dropped": _dropped_alphas(covariance),
            "floor": (frame == low).sum() / answers,
            "ceiling": (frame == high).sum() / answers,
        },
        index=frame.columns,
    )
    table.index.name = "item"

    boot_ci = None
    if n_boot > 0:
        boot_ci = _bootstrap_alpha_interval(frame.to_numpy(dtype=float), n_boot, seed, ci, progress)

    return AlphaResult(
        alpha=float(raw),
        std_alpha=float(standardized),
        average_r=float(average_r),
        ci=_feldt_interval(raw, n_rows, k, ci),
        boot_ci=boot_ci,
        n=n_rows,
        n_items=k,
        items=table,
        options={"reverse": list(reversed_items), "ci": ci, "n_boot": n_boot, "seed": seed,
                 "scale_range": [low, high], "missing": "pairwise"},
    )


def _bootstrap_alpha_interval(
    values: np.ndarray, n_boot: int, seed: int | None, level: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, float]:
    """Percentile interval of raw alpha over respondents resampled with replacement.

    A resample is represented by how often each respondent was drawn; weighted pairwise
    sums then give exactly the pairwise covariances of the resampled data.
    """
    rng = np.random.default_rng(seed)
    n_rows, k = values.shape
    present = ~np.isnan(values)
    mask = present.astype(float)
    centred = np.where(present, values - np.nanmean(values, axis=0), 0.0)
    alphas = np.empty(n_boot)
    for b in range(n_boot):
        weight = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows).astype(float)[:, None]
        weighted_mask = mask * weight
        n_pair = mask.T @ weighted_mask
        sums = centred.T @ weighted_mask
        cross = centred.T @ (centred * weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            covariance = (cross - sums * sums.T / n_pair) / (n_pair - 1.0)
        alphas[b] = k / (k - 1) * (1.0 - np.trace(covariance) / covariance.sum())
        if progress is not None:
            progress(b + 1, n_boot)
    finite = alphas[np.isfinite(alphas)]
    if finite.size < 2:
        raise AnalysisError("the bootstrap produced no usable resample: there are too few complete answers")
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(finite, [tail, 1.0 - tail])
    return float(lower), float(upper)


def item_rest_correlation(
    items: pd.DataFrame | np.ndarray, reverse: list[str] | None = None
) -> pd.Series:
    """Correlation of each item with the sum of the other items (corrected item-total r).

    With :math:`C` the pairwise covariance matrix,

    .. math:: r_{i,rest} = \\frac{\\sum_{j \\ne i} C_{ij}}
                                  {\\sqrt{C_{ii} \\sum_{j,l \\ne i} C_{jl}}},

    which is psych::alpha's ``r.drop``.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.reliability import item_rest_correlation
    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5], "q2": [2, 1, 4, 3, 5], "q3": [1, 3, 2, 5, 4]})
    >>> item_rest_correlation(df).round(3).tolist()
    [0.992, 0.58, 0.58]
    """
    frame = as_item_frame(items)
    frame, _, _ = _reverse_keyed(frame, reverse, None)
    return pd.Series(_rest_correlations(_covariance(frame)), index=frame.columns, name="r_drop")


def alpha_if_item_dropped(
    items: pd.DataFrame | np.ndarray, reverse: list[str] | None = None
) -> pd.Series:
    """Raw alpha of the remaining items when each item in turn is left out.

    This is psych::alpha's ``alpha.drop$raw_alpha``: the formula of :func:`alpha` applied to
    the covariance matrix without row and column *i*. Undefined (NaN) for two items.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.reliability import alpha_if_item_dropped
    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5], "q2": [2, 1, 4, 3, 5], "q3": [1, 3, 2, 5, 4]})
    >>> alpha_if_item_dropped(df).round(3).tolist()
    [0.462, 0.889, 0.889]
    """
    frame = as_item_frame(items)
    frame, _, _ = _reverse_keyed(frame, reverse, None)
    return pd.Series(_dropped_alphas(_covariance(frame)), index=frame.columns, name="alpha_if_dropped")


def guttman_lambda6(items: pd.DataFrame | np.ndarray, reverse: list[str] | None = None) -> float:
    """Guttman's lambda 6 of the items' correlation matrix (psych's ``G6(smc)``).

    Each item's error variance is estimated by one minus its squared multiple correlation
    with the other items:

    .. math:: \\lambda_6 = 1 - \\frac{\\sum_i (1 - \\mathrm{smc}_i)}{\\mathbf 1' R \\mathbf 1},
              \\qquad \\mathrm{smc}_i = 1 - 1/(R^{-1})_{ii}.

    References
    ----------
    Guttman, L. (1945). A basis for analyzing test-retest reliability. *Psychometrika*,
    10(4), 255-282.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.reliability import guttman_lambda6
    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5, 2], "q2": [2, 1, 4, 3, 5, 2], "q3": [1, 3, 2, 5, 4, 1]})
    >>> round(guttman_lambda6(df), 3)
    0.953
    """
    frame = as_item_frame(items, min_items=3)
    frame, _, _ = _reverse_keyed(frame, reverse, None)
    correlation = _to_correlation(_covariance(frame))
    return float(1.0 - (len(correlation) - _smc(correlation).sum()) / correlation.sum())


# --------------------------------------------------------------------------------------------
# Split-half
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitHalfResult(Result):
    """Split-half reliabilities over the splits of the items into two halves (see :func:`split_half`).

    ``max`` is Guttman's lambda 4 (the best split), ``min`` the worst split, ``mean`` the
    average split-half reliability (for all splits it equals standardized alpha).
    """

    max: float
    min: float
    mean: float
    std_alpha: float
    lambda2: float
    lambda6: float
    average_r: float
    median_r: float
    best_split: tuple[tuple[str, ...], tuple[str, ...]]
    worst_split: tuple[tuple[str, ...], tuple[str, ...]]
    n_splits: int
    exhaustive: bool
    options: dict[str, Any] = field(default_factory=dict)


def split_half(
    items: pd.DataFrame | np.ndarray,
    reverse: list[str] | None = None,
    n_sample: int = 15000,
    seed: int | None = None,
) -> SplitHalfResult:
    """Split-half reliability over all splits of the items into two halves, as ``psych::splitHalf``.

    For a split into halves A and B, with :math:`R` the correlation matrix (pairwise complete),
    the split-half reliability is the Flanagan–Rulon / Guttman coefficient

    .. math:: r_{AB} = \\frac{4\\, \\mathbf a' R \\mathbf b}{\\mathbf 1' R \\mathbf 1},

    which equals the Spearman–Brown corrected correlation of the halves when they have equal
    variances. The first half has ``k // 2`` items; every such half is tried when there are
    at most ``n_sample`` of them (16 items or fewer), otherwise ``n_sample`` random halves
    drawn with ``seed``. The result gives the best split (Guttman's lambda 4), the worst and
    the mean, with alpha, lambda 2 and lambda 6 of the same matrix. Items are not reversed
    automatically (psych's ``check.keys``): pass ``reverse``.

    References
    ----------
    Guttman, L. (1945). A basis for analyzing test-retest reliability. *Psychometrika*, 10, 255-282.
    Revelle, W. psych: ``splitHalf``.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.reliability import split_half
    >>> df = pd.DataFrame({"q1": [1, 2, 3, 4, 5, 2], "q2": [2, 1, 4, 3, 5, 2],
    ...                    "q3": [1, 3, 2, 5, 4, 1], "q4": [2, 2, 3, 4, 4, 1]})
    >>> res = split_half(df)
    >>> round(res.max, 3), round(res.mean, 3), res.n_splits
    (0.994, 0.92, 6)
    """
    frame = as_item_frame(items, min_items=2)
    frame, reversed_items, _ = _reverse_keyed(frame, reverse, None)
    names = list(frame.columns)
    correlation = _to_correlation(_covariance(frame))
    k = len(names)
    half = k // 2
    total = correlation.sum()

    count = math.comb(k, half)
    exhaustive = count <= n_sample
    if exhaustive:
        # Every subset of size k//2 as the first half, in combn's order (psych does the same).
        first_halves = np.zeros((count, k))
        for row, subset in enumerate(itertools.combinations(range(k), half)):
            first_halves[row, list(subset)] = 1.0
    else:
        rng = np.random.default_rng(seed)
        picks = np.argsort(rng.random((n_sample, k)), axis=1)[:, :half]
        first_halves = np.zeros((n_sample, k))
        np.put_along_axis(first_halves, picks, 1.0, axis=1)
    within_first = np.einsum("si,ij,sj->s", first_halves, correlation, first_halves)
    first_with_all = first_halves @ correlation.sum(axis=1)
    # psych takes absolute values "controlling for a rare case" of negatively related halves.
    coefficients = np.abs(4.0 * (first_with_all - within_first) / total)
    best, worst = int(np.argmax(coefficients)), int(np.argmin(coefficients))

    def halves(row: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        chosen = first_halves[row].astype(bool)
        return (tuple(n for n, c in zip(names, chosen, strict=True) if c),
                tuple(n for n, c in zip(names, chosen, strict=True) if not c))

    off_diagonal = correlation[np.tril_indices(k, -1)]
    sum_off = total - k
    lambda2 = (sum_off + math.sqrt((off_diagonal**2).sum() * 2 * k / (k - 1))) / total
    return SplitHalfResult(
        max=float(coefficients[best]),
        min=float(coefficients[worst]),
        mean=float(coefficients.mean()),
        std_alpha=float(sum_off / total * k / (k - 1)),
        lambda2=float(lambda2),
        lambda6=float((sum_off + _smc(correlation).sum()) / total),
        average_r=float(off_diagonal.mean()),
        median_r=float(np.median(off_diagonal)),
        best_split=halves(best),
        worst_split=halves(worst),
        n_splits=len(coefficients),
        exhaustive=exhaustive,
        options={"reverse": list(reversed_items), "n_sample": n_sample, "seed": seed, "missing": "pairwise"},
    )


# --------------------------------------------------------------------------------------------
# Intraclass correlations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ICCResult(Result):
    """Shrout & Fleiss's six intraclass correlations (see :func:`icc`).

    ``table`` is indexed by ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k with columns description,
    icc, F, df1, df2, p, ci_lower, ci_upper. ``mean_squares`` holds the ANOVA mean squares
    (between targets, within targets, between raters, residual).
    """

    table: pd.DataFrame
    n_targets: int
    n_raters: int
    mean_squares: dict[str, float]
    options: dict[str, Any] = field(default_factory=dict)


_ICC_DESCRIPTIONS = {
    "ICC1": "single rater, absolute agreement, one-way random (raters differ by target)",
    "ICC2": "single rater, absolute agreement, two-way random (raters sampled)",
    "ICC3": "single rater, consistency, two-way mixed (these raters only)",
    "ICC1k": "mean of k raters, absolute agreement, one-way random",
    "ICC2k": "mean of k raters, absolute agreement, two-way random",
    "ICC3k": "mean of k raters, consistency, two-way mixed",
}


def icc(ratings: pd.DataFrame | np.ndarray, ci: float = 0.95) -> ICCResult:
    """Intraclass correlations, the six forms of Shrout & Fleiss (1979), as ``psych::ICC``.

    ``ratings`` is wide: one row per target (person rated), one column per rater (or
    occasion). From the two-way ANOVA mean squares — between targets :math:`MS_B`, between
    raters :math:`MS_J`, residual :math:`MS_E`, within targets
    :math:`MS_W = (SS_J + SS_E) / (n(k-1))` — with n targets and k raters:

    .. math::

        ICC(1,1) = \\frac{MS_B - MS_W}{MS_B + (k-1) MS_W}, \\quad
        ICC(2,1) = \\frac{MS_B - MS_E}{MS_B + (k-1) MS_E + k (MS_J - MS_E)/n}, \\quad
        ICC(3,1) = \\frac{MS_B - MS_E}{MS_B + (k-1) MS_E},

        ICC(1,k) = \\frac{MS_B - MS_W}{MS_B}, \\quad
        ICC(2,k) = \\frac{MS_B - MS_E}{MS_B + (MS_J - MS_E)/n}, \\quad
        ICC(3,k) = \\frac{MS_B - MS_E}{MS_B}.

    F tests, p values and confidence intervals are psych's (Shrout & Fleiss; McGraw & Wong
    1996 for ICC(2,·), with Satterthwaite's degrees of freedom). Targets with a missing
    rating are left out (listwise); psych's default ``lmer = TRUE`` gives the same numbers for
    complete data unless a variance component is estimated as negative.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
    reliability. *Psychological Bulletin*, 86(2), 420-428.
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation
    coefficients. *Psychological Methods*, 1(1), 30-46.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.reliability import icc
    >>> sf = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> icc(sf).table["icc"].round(2).tolist()   # Shrout & Fleiss (1979), table 4
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    _check_level(ci)
    frame = as_item_frame(ratings, min_items=2, allow_constant=True)
    complete = frame.dropna()
    if len(complete) < 2:
        raise AnalysisError(
            f"an ICC needs at least 2 targets rated by every rater; "
            f"{len(complete)} of {len(frame)} are complete"
        )
    values = complete.to_numpy(dtype=float)
    n, k = values.shape
    grand = values.mean()
    ss_targets = k * ((values.mean(axis=1) - grand) ** 2).sum()
    ss_raters = n * ((values.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((values - grand) ** 2).sum()
    ss_error = ss_total - ss_targets - ss_raters
    msb = ss_targets / (n - 1)
    msj = ss_raters / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    msw = (ss_raters + ss_error) / (n * (k - 1))
    if msb <= 0 or mse <= 0 or msw <= 0:
        raise AnalysisError("every target received the same ratings or the ratings fit exactly: "
                            "the intraclass correlations are undefined")

    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb

    f_one, df1_one, df2_one = msb / msw, n - 1, n * (k - 1)
    f_two, df1_two, df2_two = msb / mse, n - 1, (n - 1) * (k - 1)
    p_one = float(stats.f.sf(f_one, df1_one, df2_one))
    p_two = float(stats.f.sf(f_two, df1_two, df2_two))

    tail = (1.0 - ci) / 2.0
    f1_low = f_one / stats.f.ppf(1 - tail, df1_one, df2_one)
    f1_high = f_one * stats.f.ppf(1 - tail, df2_one, df1_one)
    f3_low = f_two / stats.f.ppf(1 - tail, df1_two, df2_two)
    f3_high = f_two * stats.f.ppf(1 - tail, df2_two, df1_two)
    # ICC(2,1): McGraw & Wong's interval with Satterthwaite's df, as psych computes it.
    f_raters = msj / mse
    v_num = (k - 1) * (n - 1) * (k * icc2 * f_raters + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v_den = (n - 1) * k**2 * icc2**2 * f_raters**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = v_num / v_den
    f_star_high = stats.f.ppf(1 - tail, n - 1, v)
    f_star_low = stats.f.ppf(1 - tail, v, n - 1)
    icc2_low = n * (msb - f_star_high * mse) / (f_star_high * (k * msj + (k * n - k - n) * mse) + n * msb)
    icc2_high = n * (f_star_low * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f_star_low * msb)

    table = pd.DataFrame(
        {
            "description": list(_ICC_DESCRIPTIONS.values()),
            "icc": [icc1, icc2, icc3, icc1k, icc2k, icc3k],
            "F": [f_one, f_two, f_two, f_one, f_two, f_two],
            "df1": [df1_one, df1_two, df1_two, df1_one, df1_two, df1_two],
            "df2": [df2_one, df2_two, df2_two, df2_one, df2_two, df2_two],
            "p": [p_one, p_two, p_two, p_one, p_two, p_two],
            "ci_lower": [
                (f1_low - 1) / (f1_low + k - 1), icc2_low, (f3_low - 1) / (f3_low + k - 1),
                1 - 1 / f1_low, icc2_low * k / (1 + icc2_low * (k - 1)), 1 - 1 / f3_low,
            ],
            "ci_upper": [
                (f1_high - 1) / (f1_high + k - 1), icc2_high, (f3_high - 1) / (f3_high + k - 1),
                1 - 1 / f1_high, icc2_high * k / (1 + icc2_high * (k - 1)), 1 - 1 / f3_high,
            ],
        },
        index=pd.Index(list(_ICC_DESCRIPTIONS), name="type"),
    )
    return ICCResult(
        table=table,
        n_targets=n,
        n_raters=k,
        mean_squares={"between_targets": float(msb), "within_targets": float(msw),
                      "between_raters": float(msj), "residual": float(mse)},
        options={"ci": ci, "missing": "listwise", "targets_dropped": len(frame) - n},
    )


# --------------------------------------------------------------------------------------------
# Ordinal alpha
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrdinalAlphaResult(Result):
    """Alpha of the polychoric correlation matrix (see :func:`ordinal_alpha`).

    ``items`` has, per item, r_drop (item-rest correlation in the polychoric matrix) and
    alpha_if_dropped; ``correlation`` is the polychoric matrix used.
    """

    alpha: float
    average_r: float
    n: int
    n_items: int
    items: pd.DataFrame
    correlation: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)


def ordinal_alpha(
    items: pd.DataFrame | np.ndarray,
    reverse: list[str] | None = None,
    correct: float = 0.5,
    smooth: bool = True,
) -> OrdinalAlphaResult:
    """Ordinal alpha: coefficient alpha of the polychoric correlations (Zumbo et al. 2007).

    The items' polychoric matrix :math:`P` (see :func:`~rctscale.psychometrics.correlation.polychoric`)
    replaces the Pearson one in the standardized alpha formula,

    .. math:: \\alpha_{ord} = \\frac{k}{k-1}\\Big(1 - \\frac{k}{\\mathbf 1' P \\mathbf 1}\\Big),

    as ``psych::alpha(polychoric(x)$rho)`` computes it. It estimates the reliability of the
    latent continuous responses, not of the observed sum score, and is usually higher than
    alpha for items with few categories.

    References
    ----------
    Zumbo, B. D., Gadermann, A. M., & Zeisser, C. (2007). Ordinal versions of coefficients
    alpha and theta for Likert rating scales. *Journal of Modern Applied Statistical
    Methods*, 6(1), 21-29.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.reliability import ordinal_alpha
    >>> rng = np.random.default_rng(3)
    >>> latent = rng.normal(size=(500, 1)) + rng.normal(size=(500, 4))
    >>> answers = pd.DataFrame(np.digitize(latent, [-1, 0, 1]) + 1, columns=["a", "b", "c", "d"])
    >>> round(ordinal_alpha(answers).alpha, 2)  # alpha of the raw answers is 0.78
    0.82
    """
    frame = as_item_frame(items)
    frame, reversed_items, _ = _reverse_keyed(frame, reverse, None)
    rho = polychoric(frame, correct=correct, smooth=smooth)
    matrix = rho.to_numpy()
    k = matrix.shape[0]
    table = pd.DataFrame(
        {"r_drop": _rest_correlations(matrix), "alpha_if_dropped": _dropped_alphas(matrix)},
        index=rho.index,
    )
    table.index.name = "item"
    return OrdinalAlphaResult(
        alpha=float(_raw_alpha(matrix)),
        average_r=float((matrix.sum() - k) / (k * (k - 1))),
        n=len(frame),
        n_items=k,
        items=table,
        correlation=rho,
        options={"reverse": list(reversed_items), "correct": correct, "smooth": smooth},
    )
