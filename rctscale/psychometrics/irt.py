"""Item response theory: Samejima's graded response model, its scores and its information.

One function per task, in the style of pingouin, agreeing with R's ``mirt``
(``mirt(data, 1, itemtype = "graded")``):

* :func:`graded_response_model` — marginal maximum likelihood fit (Bock–Aitkin EM).
* :func:`eap_scores` — expected a posteriori scores (and MAP) from any subset of answered items.
* :func:`category_probabilities`, :func:`expected_score` — the model's answer probabilities.
* :func:`item_information`, :func:`test_information` — Fisher information over a theta grid.
* :func:`graded_items` — item parameters from a fit or a table (a, d1.. or b1..), for scoring and CAT.

The model
---------
An item with categories ``0 .. K-1`` (answers are recoded per item: the lowest observed
answer is category 0) has the cumulative ("boundary") curves

    P(X >= k | theta) = 1 / (1 + exp(-a (theta - b_k)))  =  1 / (1 + exp(-(a theta + d_k)))

for ``k = 1 .. K-1``, with discrimination (slope) ``a``, thresholds ``b_1 < ... < b_K-1`` in the
IRT metric and intercepts ``d_k = -a b_k`` in the slope-intercept metric mirt estimates in. A
category's probability is the difference of two neighbouring curves, with ``P(X >= 0) = 1`` and
``P(X >= K) = 0``. The latent trait is standard normal, ``theta ~ N(0, 1)``, which fixes its scale.

Quadrature follows mirt's default for one factor: 61 equally spaced nodes on [-6, 6] weighted by
the normal density (normalized to sum to one) — for the fit and for EAP scores alike, so the
log-likelihood and the scores are comparable with mirt's to several decimals.

References
----------
Samejima, F. (1969). Estimation of latent ability using a response pattern of graded scores.
*Psychometrika Monograph Supplement*, 34(4, Pt. 2), No. 17.
Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
application of an EM algorithm. *Psychometrika*, 46(4), 443–459.
Louis, T. A. (1982). Finding the observed information matrix when using the EM algorithm.
*Journal of the Royal Statistical Society B*, 44(2), 226–233.
Varadhan, R., & Roland, C. (2008). Simple and globally convergent methods for accelerating the
convergence of any EM algorithm. *Scandinavian Journal of Statistics*, 35(2), 335–353.
Bock, R. D., & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a microcomputer
environment. *Applied Psychological Measurement*, 6(4), 431–444.
Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
environment. *Journal of Statistical Software*, 48(6), 1–29.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import as_item_frame
from rctscale.psychometrics._result import Result

__all__ = [
    "GRMResult",
    "GradedItems",
    "T_SCORE_MEAN",
    "T_SCORE_SD",
    "category_probabilities",
    "eap_scores",
    "expected_score",
    "graded_items",
    "graded_response_model",
    "item_information",
    "quadrature",
    "test_information",
]

# mirt's defaults for one factor: quadpts = 61, theta_lim = c(-6, 6).
DEFAULT_QUADRATURE_POINTS = 61
DEFAULT_THETA_LIMITS = (-6.0, 6.0)
# The T metric PROMIS reports on: mean 50 and SD 10 in the calibration sample.
T_SCORE_MEAN = 50.0
T_SCORE_SD = 10.0
# The logistic curve is close to the normal ogive scaled by 1.702 (Haley, 1952); used only to
# turn observed proportions into start values.
_LOGISTIC_TO_NORMAL = 1.702
# Newton steps per M-step and step halvings per Newton step: the M-step only has to improve
# the expected log-likelihood, and each item's problem is small and smooth.
_NEWTON_STEPS = 8
_STEP_HALVINGS = 30
# Rows of response patterns handled at once when the observed information is accumulated:
# bounds the memory of the patterns x nodes x parameters score array.
_INFORMATION_CHUNK = 512
# Smallest probability used inside a logarithm or a ratio: far-out quadrature nodes can
# underflow for steep items, and they carry no posterior weight there anyway.
_TINY = 1e-300

ScoreMethod = Literal["EAP", "MAP"]


# --------------------------------------------------------------------------------------------
# Item parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradedItems:
    """Item parameters in the arrays the computations use (one row per item).

    ``intercepts`` is padded with NaN to the largest number of thresholds; ``categories``
    holds, per item, the answer values that categories ``0 .. K-1`` stand for.
    """

    names: tuple[str, ...]
    slopes: np.ndarray
    intercepts: np.ndarray
    n_categories: np.ndarray
    categories: tuple[tuple[float, ...], ...]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, positions: Sequence[int] | np.ndarray) -> GradedItems:
        positions = np.asarray(positions, dtype=int)
        return GradedItems(
            names=tuple(self.names[p] for p in positions),
            slopes=self.slopes[positions],
            intercepts=self.intercepts[positions],
            n_categories=self.n_categories[positions],
            categories=tuple(self.categories[p] for p in positions),
        )

    def codes(self, answers: pd.DataFrame) -> np.ndarray:
        """Category codes (0 .. K-1, -1 for no answer) of ``answers`` for these items, in order.

        ``answers`` may hold any subset of the items, in any order; a column that is not an item
        of the bank, or an answer that is not one of an item's categories, raises.
        """
        unknown = [str(c) for c in answers.columns if str(c) not in self.names]
        if unknown:
            raise AnalysisError(
                f"column(s) {', '.join(repr(u) for u in unknown)} are not items of the model "
                f"({', '.join(self.names)}); pass only item columns"
            )
        position = {name: j for j, name in enumerate(self.names)}
        codes = np.full((len(answers), len(self.names)), -1, dtype=np.int64)
        for column in answers.columns:
            j = position[str(column)]
            values = pd.to_numeric(answers[column], errors="coerce").to_numpy(dtype=float)
            raw = answers[column].to_numpy()
            lookup = np.asarray(self.categories[j], dtype=float)
            answered = ~np.isnan(values)
            nonnumeric = answered != pd.notna(raw)
            if nonnumeric.any():
                row = int(np.flatnonzero(nonnumeric)[0])
                raise AnalysisError(f"item '{column}' is not numeric (row {row + 1} holds {raw[row]!r})")
            index = np.searchsorted(lookup, values[answered])
            index = np.minimum(index, len(lookup) - 1)
            bad = lookup[index] != values[answered]
            if bad.any():
                row = int(np.flatnonzero(answered)[np.flatnonzero(bad)[0]])
                allowed = ", ".join(f"{v:g}" for v in lookup)
                raise AnalysisError(
                    f"item '{column}': answer {values[row]:g} in row {row + 1} is not one of its categories "
                    f"({allowed})"
                )
            codes[answered, j] = index
        return codes


def _padded_intercepts(rows: Sequence[Sequence[float]]) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for j, row in enumerate(rows):
        out[j, : len(row)] = row
    return out


def graded_items(
    parameters: pd.DataFrame | GRMResult,
    *,
    categories: Mapping[str, Sequence[float]] | None = None,
    first_category: float = 0,
) -> GradedItems:
    """Read GRM item parameters from a fit or a DataFrame.

    A DataFrame has one row per item, a column ``a`` and either intercepts ``d1, d2, ...``
    (slope-intercept metric) or thresholds ``b1, b2, ...`` (IRT metric); intercepts win when both
    are present. An item with fewer categories leaves its last columns empty (NaN). Answers are
    taken as ``first_category, first_category + 1, ...`` unless ``categories`` maps an item to its
    answer values (a fit carries its own).

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import graded_items
    >>> items = graded_items(pd.DataFrame({"a": [2.0], "b1": [-0.5], "b2": [1.0]}, index=["x"]), first_category=1)
    >>> items.intercepts.tolist(), items.categories
    ([[1.0, -2.0]], ((1.0, 2.0, 3.0),))
    """
    if isinstance(parameters, GRMResult):
        categories = {**parameters.categories, **(categories or {})}
        parameters = parameters.parameters
    if not isinstance(parameters, pd.DataFrame):
        raise AnalysisError(f"item parameters must be a DataFrame (items x a, d1.. or b1..), got "
                            f"{type(parameters).__name__}")
    if "a" not in parameters.columns:
        raise AnalysisError("item parameters need a column 'a' (the discrimination)")
    d_columns = _numbered_columns(parameters, "d")
    b_columns = _numbered_columns(parameters, "b")
    if not d_columns and not b_columns:
        raise AnalysisError("item parameters need intercepts d1, d2, ... or thresholds b1, b2, ...")
    names = tuple(str(i) for i in parameters.index)
    if len(set(names)) != len(names):
        raise AnalysisError("item parameters name an item twice; item ids must be unique")
    slopes = parameters["a"].to_numpy(dtype=float)
    rows = []
    for j, name in enumerate(names):
        if not np.isfinite(slopes[j]) or slopes[j] == 0:
            raise AnalysisError(f"item '{name}': discrimination a must be a non-zero number, got {slopes[j]}")
        if d_columns:
            values = parameters.loc[parameters.index[j], d_columns].to_numpy(dtype=float)
        else:
            values = -slopes[j] * parameters.loc[parameters.index[j], b_columns].to_numpy(dtype=float)
        present = ~np.isnan(values)
        if not present.any() or not present[: present.sum()].all():
            raise AnalysisError(f"item '{name}': its thresholds must fill the first columns without gaps")
        values = values[present]
        if np.any(np.diff(values) >= 0):
            raise AnalysisError(
                f"item '{name}': thresholds must be ordered (b increasing, d decreasing), got d = "
                f"{np.round(values, 4).tolist()}"
            )
        rows.append(values)
    n_categories = np.array([len(r) + 1 for r in rows])
    labels = []
    for name, k in zip(names, n_categories, strict=True):
        if categories is not None and name in categories:
            values = tuple(float(v) for v in categories[name])
            if len(values) != k or np.any(np.diff(values) <= 0):
                raise AnalysisError(
                    f"item '{name}': {len(values)} category values given for {k} categories; give them in "
                    "increasing order, one per category"
                )
            labels.append(values)
        else:
            labels.append(tuple(float(first_category + c) for c in range(k)))
    return GradedItems(names, slopes, _padded_intercepts(rows), n_categories, tuple(labels))


def _numbered_columns(frame: pd.DataFrame, prefix: str) -> list[str]:
    columns = []
    k = 1
    while f"{prefix}{k}" in frame.columns:
        columns.append(f"{prefix}{k}")
        k += 1
    return columns


# --------------------------------------------------------------------------------------------
# Model probabilities (all vectorized over items and theta)
# --------------------------------------------------------------------------------------------


def quadrature(n_points: int = DEFAULT_QUADRATURE_POINTS,
               limits: tuple[float, float] = DEFAULT_THETA_LIMITS) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced nodes on ``limits`` with standard-normal weights summing to one (mirt's rule).

    Example
    -------
    >>> from rctscale.psychometrics.irt import quadrature
    >>> nodes, weights = quadrature()
    >>> len(nodes), round(float(nodes[1] - nodes[0]), 12), round(float(weights.sum()), 12)
    (61, 0.2, 1.0)
    """
    if n_points < 3:
        raise AnalysisError(f"use at least 3 quadrature points, got {n_points}")
    nodes = np.linspace(limits[0], limits[1], int(n_points))
    weights = stats.norm.pdf(nodes)
    return nodes, weights / weights.sum()


def _extended_intercepts(intercepts: np.ndarray) -> np.ndarray:
    """Intercepts with d_0 = +inf and d_K = -inf around each item's own (padding = -inf)."""
    padded = np.where(np.isnan(intercepts), -np.inf, intercepts)
    n = len(intercepts)
    return np.concatenate([np.full((n, 1), np.inf), padded, np.full((n, 1), -np.inf)], axis=1)


def _log_probabilities(slopes: np.ndarray, intercepts: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """log P(X = k | theta), shape (items, max categories, theta); -inf for padded categories.

    Written as ``log sigma(z_k) + log sigma(-z_k+1) + log(1 - exp(d_k+1 - d_k))`` with
    ``z_k = a theta + d_k``: the difference of two curves near 0 or 1 would lose every digit,
    this form keeps them all, and its last term does not depend on theta.
    """
    extended = _extended_intercepts(intercepts)
    z = slopes[:, None, None] * theta[None, None, :] + extended[:, :, None]
    with np.errstate(invalid="ignore"):
        gap = np.log1p(-np.exp(extended[:, 1:] - extended[:, :-1]))
        out = special.log_expit(z[:, :-1]) + special.log_expit(-z[:, 1:]) + gap[:, :, None]
    max_categories = extended.shape[1] - 1
    n_categories = np.sum(~np.isnan(intercepts), axis=1) + 1
    padded = np.arange(max_categories)[None, :] >= n_categories[:, None]
    out[padded] = -np.inf
    return out


def _cumulative(slopes: np.ndarray, intercepts: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """P(X >= k | theta) for k = 0 .. max K, shape (items, max K + 1, theta): 1, curves..., 0."""
    extended = _extended_intercepts(intercepts)
    return special.expit(slopes[:, None, None] * theta[None, None, :] + extended[:, :, None])


def _information(slopes: np.ndarray, intercepts: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Item information a^2 sum_k (W_k - W_k+1)^2 / P_k, W = P*(1 - P*); shape (items, theta)."""
    cumulative = _cumulative(slopes, intercepts, theta)
    slope_of_curve = cumulative * (1.0 - cumulative)
    derivative = slope_of_curve[:, :-1] - slope_of_curve[:, 1:]
    probability = np.exp(_log_probabilities(slopes, intercepts, theta))
    ratio = np.divide(derivative**2, probability, out=np.zeros_like(probability), where=probability > _TINY)
    return slopes[:, None] ** 2 * ratio.sum(axis=1)


# --------------------------------------------------------------------------------------------
# Response data
# --------------------------------------------------------------------------------------------


def _recode(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[tuple[float, ...], ...]]:
    """Codes 0 .. K-1 per item (-1 = no answer) and the answer values they stand for.

    Answers must be integers; an item whose observed answers skip a value inside their range (an
    empty middle category) or that has a single observed answer raises, naming the item.
    """
    codes = np.full(frame.shape, -1, dtype=np.int64)
    labels = []
    for j, name in enumerate(frame.columns):
        values = frame[name].to_numpy(dtype=float)
        answered = ~np.isnan(values)
        observed = np.unique(values[answered])
        if len(observed) == 0:
            raise AnalysisError(f"item '{name}' has no answers; drop it before fitting the model")
        fractional = observed[observed != np.round(observed)]
        if len(fractional):
            raise AnalysisError(
                f"item '{name}' has a non-integer answer ({fractional[0]:g}); the graded response model needs "
                "ordered categories coded as integers"
            )
        if len(observed) == 1:
            raise AnalysisError(
                f"item '{name}' has a single observed category ({observed[0]:g}); it carries no information "
                "about differences between respondents: drop it before fitting the model"
            )
        expected = np.arange(observed[0], observed[-1] + 1)
        empty = np.setdiff1d(expected, observed)
        if len(empty):
            raise AnalysisError(
                f"item '{name}' has no answers in category {empty[0]:g} (between {observed[0]:g} and "
                f"{observed[-1]:g}); merge that category with a neighbour before fitting the model, or its "
                "thresholds are not identified"
            )
        codes[answered, j] = np.searchsorted(observed, values[answered])
        labels.append(tuple(float(v) for v in observed))
    return codes, tuple(labels)


def _one_hot(codes: np.ndarray, n_categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrix (rows x sum K) of the answered categories, and each item's column offset."""
    offsets = np.concatenate([[0], np.cumsum(n_categories)[:-1]])
    indicator = np.zeros((codes.shape[0], int(n_categories.sum())))
    rows, items = np.nonzero(codes >= 0)
    indicator[rows, offsets[items] + codes[rows, items]] = 1.0
    return indicator, offsets


def _flat_log_probabilities(slopes: np.ndarray, intercepts: np.ndarray, n_categories: np.ndarray,
                            theta: np.ndarray) -> np.ndarray:
    """log P(X = k | theta) stacked item by item, one row per real category: (sum K, theta)."""
    log_p = _log_probabilities(slopes, intercepts, theta)
    real = np.arange(log_p.shape[1])[None, :] < n_categories[:, None]
    return log_p[real]


def _posterior(indicator: np.ndarray, flat_log_p: np.ndarray, log_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior over the nodes for each row and each row's marginal log-likelihood.

    The log-likelihood of a row at every node is one matrix product: rows x categories times
    categories x nodes. Unanswered items have no indicator, so they drop out (full-information
    likelihood over the answered items only).
    """
    log_joint = indicator @ flat_log_p + log_weights[None, :]
    peak = log_joint.max(axis=1, keepdims=True)  # subtracted so that exp() cannot underflow to 0 / 0
    joint = np.exp(log_joint - peak)
    total = joint.sum(axis=1, keepdims=True)
    return joint / total, peak[:, 0] + np.log(total[:, 0])


# --------------------------------------------------------------------------------------------
# M-step: Newton per item, vectorized over the items that share a number of categories
# --------------------------------------------------------------------------------------------


def _design(theta: np.ndarray, n_categories: int) -> np.ndarray:
    """d z_k / d(a, d_1 .. d_K-1) for k = 0 .. K: shape (K + 1, nodes, K); z_0, z_K have no d."""
    design = np.zeros((n_categories + 1, len(theta), n_categories))
    design[:, :, 0] = theta[None, :]
    for k in range(1, n_categories):
        design[k, :, k] = 1.0
    return design


def _item_derivatives(slopes: np.ndarray, intercepts: np.ndarray, counts: np.ndarray, theta: np.ndarray,
                      design: np.ndarray, hessian: bool = True) -> dict[str, np.ndarray]:
    """Expected complete-data log-likelihood of items sharing K categories and its derivatives.

    ``counts`` (items, K, nodes) are the expected numbers of respondents in each category at each
    node. With W_k = P*_k (1 - P*_k), V_k = W_k (1 - 2 P*_k) and g_k = dz_k/dbeta,
    dP_k = W_k g_k - W_k+1 g_k+1 and d2P_k = V_k g_k g_k' - V_k+1 g_k+1 g_k+1', so
    grad = sum r dP/P and hess = sum r (d2P/P - dP dP'/P^2).
    """
    log_p = np.maximum(_log_probabilities(slopes, intercepts, theta), math.log(_TINY))
    probability = np.exp(log_p)
    out = {"loglik": np.einsum("jkq,jkq->j", counts, log_p)}
    cumulative = _cumulative(slopes, intercepts, theta)
    w = cumulative * (1.0 - cumulative)
    d_probability = w[:, :-1, :, None] * design[None, :-1] - w[:, 1:, :, None] * design[None, 1:]
    score = d_probability / probability[..., None]
    out["gradient"] = np.einsum("jkq,jkqp->jp", counts, score)
    out["score"] = score
    if hessian:
        v = w * (1.0 - 2.0 * cumulative)
        outer = design[:, :, :, None] * design[:, :, None, :]
        second = v[:, :-1, :, None, None] * outer[None, :-1] - v[:, 1:, :, None, None] * outer[None, 1:]
        out["hessian"] = (np.einsum("jkq,jkqab->jab", counts / probability, second)
                          - np.einsum("jkq,jkqa,jkqb->jab", counts, score, score))
        nodes_total = counts.sum(axis=1)
        out["fisher"] = np.einsum("jq,jkq,jkqa,jkqb->jab", nodes_total, probability, score, score)
    return out


def _valid(intercepts: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    ordered = np.all(np.diff(intercepts, axis=1) < 0, axis=1) if intercepts.shape[1] > 1 else True
    return np.isfinite(slopes) & np.all(np.isfinite(intercepts), axis=1) & ordered & (np.abs(slopes) > 1e-8)


def _maximize_items(slopes: np.ndarray, intercepts: np.ndarray, counts: np.ndarray, theta: np.ndarray,
                    tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method with step halving on each item's expected log-likelihood (one M-step).

    Where the Hessian is not negative definite (far from the optimum) the expected information
    (Fisher scoring) gives the direction instead; a step is halved until the log-likelihood does
    not fall and the intercepts stay ordered.
    """
    design = _design(theta, counts.shape[1])
    beta = np.concatenate([slopes[:, None], intercepts], axis=1)
    for _ in range(_NEWTON_STEPS):
        current = _item_derivatives(beta[:, 0], beta[:, 1:], counts, theta, design)
        negative_hessian = -current["hessian"]
        try:
            definite = np.linalg.eigvalsh(negative_hessian)[:, 0] > 0
        except np.linalg.LinAlgError:
            definite = np.zeros(len(beta), dtype=bool)
        metric = np.where(definite[:, None, None], negative_hessian, current["fisher"])
        try:
            step = np.linalg.solve(metric, current["gradient"][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = current["gradient"] / np.maximum(np.abs(np.diagonal(metric, axis1=1, axis2=2)), 1.0)
        length = np.ones(len(beta))
        pending = np.ones(len(beta), dtype=bool)
        new_beta = beta.copy()
        for _ in range(_STEP_HALVINGS):
            trial = beta + length[:, None] * step
            trial_slopes, trial_intercepts = trial[:, 0], trial[:, 1:]
            ok = _valid(trial_intercepts, trial_slopes)
            trial_loglik = np.full(len(beta), -np.inf)
            if ok.any():
                trial_loglik[ok] = np.einsum(
                    "jkq,jkq->j", counts[ok],
                    np.maximum(_log_probabilities(trial_slopes[ok], trial_intercepts[ok], theta), math.log(_TINY)))
            accept = pending & ok & (trial_loglik >= current["loglik"] - 1e-10 * np.abs(current["loglik"]))
            new_beta[accept] = trial[accept]
            pending &= ~accept
            if not pending.any():
                break
            length[pending] *= 0.5
        moved = np.max(np.abs(new_beta - beta))
        beta = new_beta
        if moved < tol * 1e-2:
            break
    return beta[:, 0], beta[:, 1:]


class _EMMap:
    """One Bock–Aitkin EM cycle as a map beta -> F(beta), and its SQUAREM acceleration.

    ``beta`` packs each item's slope and intercepts. Plain EM converges linearly, slowly when
    the answers leave much of theta uncertain (few items); SQUAREM (Varadhan & Roland, 2008,
    scheme S3) extrapolates along two successive EM steps and falls back to the plain steps
    whenever the extrapolated point lowers the likelihood or breaks the ordering of the
    intercepts, so the fit keeps EM's monotone ascent. mirt accelerates its EM too (Ramsay's
    method); both converge to the same maximum.
    """

    def __init__(self, indicator: np.ndarray, counts: np.ndarray, offsets: np.ndarray, n_categories: np.ndarray,
                 theta: np.ndarray, log_weights: np.ndarray, tol: float) -> None:
        self.indicator, self.counts, self.offsets = indicator, counts, offsets
        self.n_categories, self.theta, self.log_weights, self.tol = n_categories, theta, log_weights, tol
        self.groups = {int(k): np.flatnonzero(n_categories == k) for k in np.unique(n_categories)}
        width = int(n_categories.max()) - 1
        self.real = np.arange(width)[None, :] < (n_categories - 1)[:, None]
        self.n_steps = 0

    def pack(self, slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
        return np.concatenate([slopes, intercepts[self.real]])

    def unpack(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.n_categories)
        intercepts = np.full(self.real.shape, np.nan)
        intercepts[self.real] = beta[n:]
        return beta[:n].copy(), intercepts

    def valid(self, beta: np.ndarray) -> bool:
        slopes, intercepts = self.unpack(beta)
        ordered = np.all(np.nan_to_num(np.diff(intercepts, axis=1), nan=-1.0) < 0)
        return bool(np.all(np.isfinite(beta)) and ordered and np.all(np.abs(slopes) > 1e-8))

    def step(self, beta: np.ndarray) -> tuple[np.ndarray, float]:
        """F(beta) and the marginal log-likelihood at ``beta`` (a by-product of the E-step)."""
        self.n_steps += 1
        slopes, intercepts = self.unpack(beta)
        flat_log_p = _flat_log_probabilities(slopes, intercepts, self.n_categories, self.theta)
        posterior, log_marginal = _posterior(self.indicator, flat_log_p, self.log_weights)
        expected = self.indicator.T @ (posterior * self.counts[:, None])  # (sum K, nodes)
        new_slopes, new_intercepts = slopes.copy(), intercepts.copy()
        for k, members in self.groups.items():
            rows = self.offsets[members][:, None] + np.arange(k)[None, :]
            group_slopes, group_intercepts = _maximize_items(slopes[members], intercepts[members, : k - 1],
                                                             expected[rows], self.theta, self.tol)
            new_slopes[members] = group_slopes
            new_intercepts[members, : k - 1] = group_intercepts
        return self.pack(new_slopes, new_intercepts), float(self.counts @ log_marginal)

    def run(self, beta: np.ndarray, max_steps: int) -> tuple[np.ndarray, bool, int, float]:
        """Iterate to convergence: returns beta, converged, EM steps used, last plain-EM change."""
        change = np.inf
        while self.n_steps < max_steps:
            first, loglik = self.step(beta)
            change = float(np.max(np.abs(first - beta)))
            if change < self.tol:
                return first, True, self.n_steps, change
            if self.n_steps + 2 > max_steps:
                beta = first
                continue
            second, _ = self.step(first)
            r = first - beta
            v = second - first - r
            alpha = -math.sqrt(float(r @ r) / max(float(v @ v), 1e-300))
            alpha = min(alpha, -1.0)  # alpha = -1 is the plain double EM step
            while alpha < -1.0:
                candidate = beta - 2.0 * alpha * r + alpha**2 * v
                if self.valid(candidate):
                    break
                alpha = (alpha - 1.0) / 2.0 if alpha < -1.01 else -1.0
            if alpha == -1.0:
                beta = second
                continue
            stabilized, candidate_loglik = self.step(candidate)
            beta = stabilized if candidate_loglik >= loglik else second
        return beta, False, self.n_steps, change


# --------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GRMResult(Result):
    """A graded response model fitted by marginal maximum likelihood.

    Attributes
    ----------
    parameters : DataFrame
        Items x ``a, b1 .. bK-1, d1 .. dK-1``: discrimination, thresholds in the IRT metric
        (mirt's ``coef(fit, IRTpars = TRUE)``) and intercepts ``d_k = -a b_k`` (mirt's default
        slope-intercept metric). Items with fewer categories leave the last columns NaN.
    standard_errors : DataFrame
        The same layout: standard errors from the observed information of the marginal
        log-likelihood (Louis's formula, exact at the quadrature used); those of ``b`` by the
        delta method. NaN when the information matrix is singular or not computed.
    loglik, aic, bic : float
        Marginal log-likelihood at the estimates; AIC = -2 logL + 2p, BIC = -2 logL + p ln n.
    n_parameters, n_respondents : int
        Free parameters (one slope and K-1 intercepts per item); respondents with at least one
        answer.
    converged : bool
        Whether the largest change of a parameter in a plain EM cycle fell below ``tol``.
    n_iter : int
        EM cycles run (each an E-step and an M-step; the SQUAREM extrapolation's included).
    categories : dict
        Item -> the answer values its categories 0 .. K-1 stand for.
    covariance : DataFrame
        Sampling covariance of the slope-intercept parameters (``item.a``, ``item.d1`` ...).
    options : dict
        The settings used.
    """

    parameters: pd.DataFrame
    standard_errors: pd.DataFrame
    loglik: float
    aic: float
    bic: float
    n_parameters: int
    n_respondents: int
    converged: bool
    n_iter: int
    categories: dict[str, tuple[float, ...]]
    covariance: pd.DataFrame = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        status = "converged" if self.converged else "did NOT converge"
        lines = [
            f"Graded response model (MML-EM, {self.options['n_quadrature']} quadrature points) {status} after "
            f"{self.n_iter} EM cycles; N = {self.n_respondents}, {len(self.parameters)} items, "
            f"{self.n_parameters} parameters",
            f"  logLik = {self.loglik:.3f}, AIC = {self.aic:.2f}, BIC = {self.bic:.2f}",
            "",
            "Item parameters (a, b: IRT metric; d = -a b: slope-intercept metric):",
            self.parameters.to_string(float_format=lambda v: f"{v:.3f}"),
            "",
            f"Standard errors ({self.options['standard_errors']}):",
            self.standard_errors.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)

    @property
    def items(self) -> GradedItems:
        """The item parameters as :class:`GradedItems` (for the CAT engine and the scores)."""
        return graded_items(self)

    def theta(self, answers: pd.DataFrame | Mapping[str, float], method: ScoreMethod = "EAP") -> pd.DataFrame:
        """Trait estimates for ``answers`` (any subset of the items): see :func:`eap_scores`."""
        return eap_scores(self, answers, method=method, n_quadrature=self.options["n_quadrature"],
                          theta_limits=self.options["theta_limits"])

    def item_information(self, theta: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Item information over ``theta``: see :func:`item_information`."""
        return item_information(self, theta)

    def test_information(self, theta: Sequence[float] | np.ndarray) -> pd.Series:
        """Test information over ``theta``: see :func:`test_information`."""
        return test_information(self, theta)

    def expected_score(self, theta: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Expected answer per item and their total over ``theta``: see :func:`expected_score`."""
        return expected_score(self, theta)


def _start_values(codes: np.ndarray, n_categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slopes from item-rest correlations, intercepts from the observed cumulative proportions.

    A loading lambda becomes a = 1.702 lambda / sqrt(1 - lambda^2) (normal-ogive factor model to
    logistic slope), and P(X >= k) = E sigma(a theta + d) ~ Phi(d / sqrt(1.702^2 + a^2)) gives d.
    """
    values = np.where(codes >= 0, codes, np.nan).astype(float)
    standardized = (values - np.nanmean(values, axis=0)) / np.nanstd(values, axis=0)
    total = np.nansum(standardized, axis=1)
    slopes = np.empty(codes.shape[1])
    intercepts = []
    for j in range(codes.shape[1]):
        answered = codes[:, j] >= 0
        rest = total[answered] - standardized[answered, j]
        r = np.corrcoef(standardized[answered, j], rest)[0, 1] if np.std(rest) > 0 else 0.5
        loading = float(np.clip(np.nan_to_num(r, nan=0.5), -0.85, 0.85))
        if abs(loading) < 0.2:
            loading = 0.2 if loading >= 0 else -0.2
        slopes[j] = _LOGISTIC_TO_NORMAL * loading / math.sqrt(1.0 - loading**2)
        answers = codes[answered, j]
        at_least = np.array([(answers >= k).mean() for k in range(1, n_categories[j])])
        at_least = np.clip(at_least, 1e-3, 1 - 1e-3)
        d = math.hypot(_LOGISTIC_TO_NORMAL, slopes[j]) * stats.norm.ppf(at_least)
        intercepts.append(d - np.arange(len(d)) * 1e-3)  # strictly decreasing even if proportions tie
    return slopes, _padded_intercepts(intercepts)


def _observed_information(slopes: np.ndarray, intercepts: np.ndarray, n_categories: np.ndarray,
                          patterns: np.ndarray, counts: np.ndarray, indicator: np.ndarray,
                          theta: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
    """Observed information of the marginal log-likelihood by Louis's (1982) formula.

    I = -sum_i E[d2 log f(x_i, theta)] - sum_i Cov[s_i(theta)], expectations over each
    respondent's posterior at the quadrature nodes, s_i(theta) the complete-data score (the
    sum over answered items of d log P/d beta). The first term is the M-step Hessian; the second
    couples the items. Exact for the quadrature-approximated likelihood, like mirt's Oakes
    standard errors.
    """
    n_items = len(slopes)
    sizes = n_categories  # a slope and K-1 intercepts per item
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_parameters = int(sizes.sum())
    flat_log_p = _flat_log_probabilities(slopes, intercepts, n_categories, theta)
    posterior, _ = _posterior(indicator, flat_log_p, log_weights)
    offsets = np.concatenate([[0], np.cumsum(n_categories)[:-1]])
    expected = indicator.T @ (posterior * counts[:, None])
    complete_hessian = np.zeros((n_parameters, n_parameters))
    # Scores d log P_jk(theta_q)/d beta_j with an extra all-zero category for "no answer".
    scores = []
    for j in range(n_items):
        k = int(n_categories[j])
        item_counts = expected[offsets[j]: offsets[j] + k][None]
        derivatives = _item_derivatives(slopes[j: j + 1], intercepts[j: j + 1, : k - 1], item_counts, theta,
                                        _design(theta, k))
        block = slice(starts[j], starts[j] + k)
        complete_hessian[block, block] = derivatives["hessian"][0]
        score = derivatives["score"][0]
        scores.append(np.concatenate([score, np.zeros((1,) + score.shape[1:])], axis=0))
    covariance_of_scores = np.zeros((n_parameters, n_parameters))
    # Patterns in the order of their EAP, so that each chunk's posteriors share a narrow band of
    # nodes and the others (no weight) can be skipped.
    order = np.argsort(posterior @ theta)
    for first in range(0, len(patterns), _INFORMATION_CHUNK):
        rows = order[first: first + _INFORMATION_CHUNK]
        chunk_posterior = posterior[rows]
        # Nodes with no posterior weight in this chunk add nothing: skip them.
        nodes = np.flatnonzero(chunk_posterior.max(axis=0) > 1e-14)
        chunk_posterior = chunk_posterior[:, nodes]
        chunk_scores = np.zeros((chunk_posterior.shape[0], len(nodes), n_parameters))
        for j in range(n_items):
            category = np.where(patterns[rows, j] >= 0, patterns[rows, j], n_categories[j])
            chunk_scores[:, :, starts[j]: starts[j] + n_categories[j]] = scores[j][category][:, nodes]
        weight = chunk_posterior * counts[rows, None]
        weighted = chunk_scores * np.sqrt(weight)[..., None]
        flat = weighted.reshape(-1, n_parameters)
        mean_score = np.einsum("iq,iqp->ip", chunk_posterior, chunk_scores)
        covariance_of_scores += flat.T @ flat - (mean_score * counts[rows, None]).T @ mean_score
    return -complete_hessian - covariance_of_scores


def graded_response_model(
    items: pd.DataFrame | np.ndarray,
    n_quadrature: int = DEFAULT_QUADRATURE_POINTS,
    max_iter: int = 500,
    tol: float = 1e-5,
    *,
    theta_limits: tuple[float, float] = DEFAULT_THETA_LIMITS,
    standard_errors: bool = True,
) -> GRMResult:
    """Fit Samejima's (1969) logistic graded response model by marginal maximum likelihood.

    Each item ``j`` with categories ``0 .. K-1`` has

    .. math:: P(X_j \\ge k \\mid \\theta) = \\frac{1}{1 + e^{-a_j(\\theta - b_{jk})}}
              = \\frac{1}{1 + e^{-(a_j\\theta + d_{jk})}}, \\qquad d_{jk} = -a_j b_{jk},

    with ``theta ~ N(0, 1)``. The marginal likelihood integrates theta out over 61 equally spaced
    nodes on [-6, 6] (mirt's default) and is maximized with the Bock–Aitkin EM algorithm: the
    E-step finds each respondent's posterior over the nodes (one matrix product over all items
    and respondents, identical answer patterns counted once) and the expected number of
    respondents per item, category and node; the M-step maximizes each item's expected
    log-likelihood by Newton's method, vectorized over items with equal numbers of categories.

    Missing answers are skipped: each respondent contributes the items he or she answered
    (full-information likelihood, like mirt). Answers are recoded per item to 0 .. K-1 in the
    order of the observed values.

    Parameters
    ----------
    items : DataFrame or 2-D array
        Respondents x items, integer answers (NaN = no answer).
    n_quadrature : int
        Quadrature nodes (mirt: ``quadpts``, default 61).
    max_iter : int
        Most EM cycles (mirt: ``technical = list(NCYCLES = 500)``).
    tol : float
        Stop when no parameter moves by more than ``tol`` in a plain EM cycle (mirt: ``TOL``,
        default 1e-4). Cycles are accelerated by SQUAREM (Varadhan & Roland, 2008), which keeps
        EM's monotone ascent; mirt accelerates with Ramsay's method.
    theta_limits : (float, float)
        Range of the nodes (mirt: ``theta_lim``).
    standard_errors : bool
        Compute standard errors from the observed information (Louis, 1982). mirt's default is
        not to (``SE = FALSE``); with ``SE = TRUE`` it uses Oakes's identity, which gives the same
        matrix up to numerical differentiation.

    Returns
    -------
    GRMResult
        ``.parameters`` (a, b1.., d1..), ``.standard_errors``, ``.loglik``, ``.aic``, ``.bic``,
        ``.converged``, ``.n_iter``, and ``.theta()``, ``.item_information()``,
        ``.test_information()``, ``.expected_score()``.

    Raises
    ------
    AnalysisError
        An item is not numeric or not integer, has no answers, a single observed category or an
        empty category between observed ones.

    References
    ----------
    Samejima (1969); Bock & Aitkin (1981); Louis (1982); Chalmers (2012), see the module.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.irt import graded_response_model
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.standard_normal(500)
    >>> data = pd.DataFrame({f"i{j}": (theta + rng.standard_normal(500) > c).astype(int)
    ...                      + (theta + rng.standard_normal(500) > c + 1).astype(int)
    ...                      for j, c in enumerate([-1.0, -0.5, 0.0, 0.5])})
    >>> fit = graded_response_model(data)
    >>> fit.converged, list(fit.parameters.columns)
    (True, ['a', 'b1', 'b2', 'd1', 'd2'])
    """
    frame = as_item_frame(items, min_items=2, allow_constant=True)
    codes, labels = _recode(frame)
    answered_rows = (codes >= 0).any(axis=1)
    codes = codes[answered_rows]
    n_categories = np.array([len(v) for v in labels])
    patterns, counts = np.unique(codes, axis=0, return_counts=True)
    counts = counts.astype(float)
    indicator, offsets = _one_hot(patterns, n_categories)
    theta, weights = quadrature(n_quadrature, theta_limits)
    log_weights = np.log(weights)
    em = _EMMap(indicator, counts, offsets, n_categories, theta, log_weights, tol)
    beta = em.pack(*_start_values(codes, n_categories))
    beta, converged, n_iter, change = em.run(beta, max_iter)
    if not converged:
        warnings.warn(f"the graded response model did not converge in {max_iter} EM cycles (largest last "
                      f"change {change:.2g} > tol {tol:g}); raise max_iter", stacklevel=2)
    slopes, intercepts = em.unpack(beta)

    flat_log_p = _flat_log_probabilities(slopes, intercepts, n_categories, theta)
    _, log_marginal = _posterior(indicator, flat_log_p, log_weights)
    loglik = float(counts @ log_marginal)
    n_parameters = int(n_categories.sum())
    n_respondents = int(answered_rows.sum())

    names = list(frame.columns)
    parameter_names = [f"{name}.{p}" for name, k in zip(names, n_categories, strict=True)
                       for p in ["a"] + [f"d{i}" for i in range(1, k)]]
    covariance = np.full((n_parameters, n_parameters), np.nan)
    if standard_errors:
        information = _observed_information(slopes, intercepts, n_categories, patterns, counts, indicator,
                                            theta, log_weights)
        try:
            eigenvalues = np.linalg.eigvalsh(information)
            if eigenvalues.min() > 1e-10 * eigenvalues.max():
                covariance = np.linalg.inv(information)
            else:
                warnings.warn("the observed information matrix is singular: standard errors are not available "
                              "(an item may have a nearly empty category)", stacklevel=2)
        except np.linalg.LinAlgError:
            pass
    parameters, errors = _parameter_tables(names, slopes, intercepts, n_categories, covariance)
    return GRMResult(
        parameters=parameters,
        standard_errors=errors,
        loglik=loglik,
        aic=-2.0 * loglik + 2.0 * n_parameters,
        bic=-2.0 * loglik + n_parameters * math.log(n_respondents),
        n_parameters=n_parameters,
        n_respondents=n_respondents,
        converged=converged,
        n_iter=n_iter,
        categories=dict(zip(names, labels, strict=True)),
        covariance=pd.DataFrame(covariance, index=parameter_names, columns=parameter_names),
        options={"n_quadrature": int(n_quadrature), "theta_limits": tuple(float(v) for v in theta_limits),
                 "max_iter": int(max_iter), "tol": float(tol), "estimator": "MML-EM",
                 "standard_errors": "Louis (observed information)" if standard_errors else "none"},
    )


def _parameter_tables(names: list[str], slopes: np.ndarray, intercepts: np.ndarray, n_categories: np.ndarray,
                      covariance: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The a, b, d table and its standard errors (b's by the delta method: b = -d / a)."""
    width = int(n_categories.max()) - 1
    columns = ["a"] + [f"b{k}" for k in range(1, width + 1)] + [f"d{k}" for k in range(1, width + 1)]
    values = np.full((len(names), len(columns)), np.nan)
    errors = np.full_like(values, np.nan)
    start = 0
    for j, k in enumerate(n_categories):
        m = int(k) - 1
        a, d = slopes[j], intercepts[j, :m]
        values[j, 0] = a
        values[j, 1: 1 + m] = -d / a
        values[j, 1 + width: 1 + width + m] = d
        block = covariance[start: start + m + 1, start: start + m + 1]
        errors[j, 0] = math.sqrt(block[0, 0]) if block[0, 0] >= 0 else np.nan
        errors[j, 1 + width: 1 + width + m] = np.sqrt(np.clip(np.diag(block)[1:], 0, None))
        for i in range(m):
            gradient = np.zeros(m + 1)
            gradient[0] = d[i] / a**2
            gradient[1 + i] = -1.0 / a
            variance = gradient @ block @ gradient
            errors[j, 1 + i] = math.sqrt(variance) if variance >= 0 else np.nan
        start += m + 1
    index = pd.Index(names, name="item")
    return pd.DataFrame(values, index=index, columns=columns), pd.DataFrame(errors, index=index, columns=columns)


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def _answer_frame(answers: pd.DataFrame | pd.Series | Mapping[str, float]) -> pd.DataFrame:
    if isinstance(answers, pd.DataFrame):
        return answers
    if isinstance(answers, pd.Series):
        return answers.to_frame().T
    if isinstance(answers, Mapping):
        return pd.DataFrame([dict(answers)])
    raise AnalysisError(f"answers must be a DataFrame (respondents x items) or a mapping item -> answer, got "
                        f"{type(answers).__name__}")


def _log_likelihood_at_nodes(items: GradedItems, codes: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """log L(theta_q) of each respondent from the answered items: (respondents, nodes)."""
    flat_log_p = _flat_log_probabilities(items.slopes, items.intercepts, items.n_categories, theta)
    indicator, _ = _one_hot(codes, items.n_categories)
    return indicator @ flat_log_p


def eap_from_codes(items: GradedItems, codes: np.ndarray, theta: np.ndarray,
                   log_prior: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EAP, posterior SD and the posterior over ``theta`` for coded answers (-1 = no answer)."""
    log_posterior = _log_likelihood_at_nodes(items, codes, theta) + log_prior[None, :]
    log_posterior -= special.logsumexp(log_posterior, axis=1, keepdims=True)
    posterior = np.exp(log_posterior)
    mean = posterior @ theta
    sd = np.sqrt(np.maximum(posterior @ theta**2 - mean**2, 0.0))
    return mean, sd, posterior


def _map_from_codes(items: GradedItems, codes: np.ndarray, start: np.ndarray, prior_mean: float,
                    prior_sd: float, limits: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mode by Newton's method on theta (vectorized over respondents); SE = 1/sqrt(-l'')."""
    theta = start.copy()
    for _ in range(50):
        first, second = _log_likelihood_derivatives(items, codes, theta)
        first -= (theta - prior_mean) / prior_sd**2
        second -= 1.0 / prior_sd**2
        # The log-posterior is concave near its mode; far from it a step is capped at one unit.
        step = np.clip(-first / np.minimum(second, -1e-6), -1.0, 1.0)
        theta = np.clip(theta + step, *limits)
        if np.max(np.abs(step), initial=0.0) < 1e-10:
            break
    _, second = _log_likelihood_derivatives(items, codes, theta)
    second -= 1.0 / prior_sd**2
    return theta, 1.0 / np.sqrt(-np.minimum(second, -1e-12))


def _log_likelihood_derivatives(items: GradedItems, codes: np.ndarray,
                                theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative in theta of each respondent's log-likelihood.

    With the answered category k between the curves P*_k and P*_k+1 (W = P*(1 - P*),
    V = W(1 - 2P*)): d log P/d theta = a (W_k - W_k+1)/P and
    d2 log P/d theta2 = a^2 (V_k - V_k+1)/P - (d log P/d theta)^2.
    """
    rows, columns = np.nonzero(codes >= 0)
    slopes = items.slopes[columns]
    extended = _extended_intercepts(items.intercepts)[columns]
    category = codes[rows, columns]
    answer = np.arange(len(rows))
    lower_intercept, upper_intercept = extended[answer, category], extended[answer, category + 1]
    z_lower, z_upper = slopes * theta[rows] + lower_intercept, slopes * theta[rows] + upper_intercept
    curve_lower, curve_upper = special.expit(z_lower), special.expit(z_upper)
    w_lower, w_upper = curve_lower * (1 - curve_lower), curve_upper * (1 - curve_upper)
    v_lower, v_upper = w_lower * (1 - 2 * curve_lower), w_upper * (1 - 2 * curve_upper)
    log_p = (special.log_expit(z_lower) + special.log_expit(-z_upper)
             + np.log1p(-np.exp(upper_intercept - lower_intercept)))
    probability = np.maximum(np.exp(log_p), _TINY)
    gradient = slopes * (w_lower - w_upper) / probability
    curvature = slopes**2 * (v_lower - v_upper) / probability - gradient**2
    first = np.bincount(rows, weights=gradient, minlength=len(theta))
    second = np.bincount(rows, weights=curvature, minlength=len(theta))
    return first, second


def eap_scores(
    parameters: pd.DataFrame | GRMResult,
    answers: pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    method: ScoreMethod = "EAP",
    categories: Mapping[str, Sequence[float]] | None = None,
    first_category: float = 0,
    n_quadrature: int = DEFAULT_QUADRATURE_POINTS,
    theta_limits: tuple[float, float] = DEFAULT_THETA_LIMITS,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
) -> pd.DataFrame:
    """Trait estimates from GRM item parameters and any subset of answered items.

    EAP (Bock & Mislevy, 1982) is the posterior mean and its standard error the posterior SD,

    .. math:: \\hat\\theta = \\frac{\\sum_q \\theta_q L(\\theta_q) w_q}{\\sum_q L(\\theta_q) w_q},
              \\qquad L(\\theta) = \\prod_{j \\text{ answered}} P(X_j = x_j \\mid \\theta),

    over equally spaced nodes with normal prior weights (mirt's ``fscores`` default: 61 nodes on
    [-6, 6]). ``method="MAP"`` gives the posterior mode instead, with the SE from the curvature of
    the log-posterior there. Unanswered items (NaN, or absent columns) are skipped, so a short
    form or a CAT is scored with the same function; a respondent with no answers gets the prior.

    Parameters
    ----------
    parameters : DataFrame or GRMResult
        Items x ``a`` and ``d1..`` or ``b1..`` (see :func:`graded_items`), or a fit.
    answers : DataFrame, Series or mapping
        Respondents x items (a subset of the items is fine), or one respondent's item -> answer.
    categories, first_category
        The answer values of each item's categories; a fit carries its own, otherwise answers are
        ``first_category, first_category + 1, ...``.

    Returns
    -------
    DataFrame
        Indexed like ``answers``: ``theta``, ``se``, ``t_score`` (50 + 10 theta), ``t_se`` (10 se)
        and ``n_answered``.

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import eap_scores
    >>> bank = pd.DataFrame({"a": [1.5, 2.0], "b1": [-1.0, -0.5], "b2": [0.5, 1.0]}, index=["x", "y"])
    >>> eap_scores(bank, {"x": 2, "y": 2}).round(2)[["theta", "se"]]
       theta    se
    0   1.25  0.69
    """
    items = graded_items(parameters, categories=categories, first_category=first_category)
    frame = _answer_frame(answers)
    codes = items.codes(frame)
    if method == "EAP" or method == "MAP":
        theta_nodes, _ = quadrature(n_quadrature, theta_limits)
        log_prior = stats.norm.logpdf(theta_nodes, prior_mean, prior_sd)
        theta, se, _ = eap_from_codes(items, codes, theta_nodes, log_prior)
        if method == "MAP":
            theta, se = _map_from_codes(items, codes, theta, prior_mean, prior_sd, theta_limits)
    else:
        raise AnalysisError(f"method must be 'EAP' or 'MAP', got {method!r}")
    return pd.DataFrame(
        {"theta": theta, "se": se, "t_score": T_SCORE_MEAN + T_SCORE_SD * theta, "t_se": T_SCORE_SD * se,
         "n_answered": (codes >= 0).sum(axis=1)},
        index=frame.index,
    )


# --------------------------------------------------------------------------------------------
# Curves and information
# --------------------------------------------------------------------------------------------


def _theta_grid(theta: Sequence[float] | np.ndarray | float) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(theta, dtype=float))
    if grid.ndim != 1 or not np.all(np.isfinite(grid)):
        raise AnalysisError("theta must be a finite number or a 1-D sequence of finite numbers")
    return grid


def category_probabilities(parameters: pd.DataFrame | GRMResult, theta: Sequence[float] | np.ndarray | float,
                           ) -> dict[str, pd.DataFrame]:
    """P(X_j = k | theta) for each item: item -> DataFrame (theta x answer values).

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import category_probabilities
    >>> bank = pd.DataFrame({"a": [1.0], "b1": [0.0]}, index=["x"])
    >>> category_probabilities(bank, [0.0])["x"].round(2).to_numpy().tolist()
    [[0.5, 0.5]]
    """
    items = graded_items(parameters)
    grid = _theta_grid(theta)
    probability = np.exp(_log_probabilities(items.slopes, items.intercepts, grid))
    return {name: pd.DataFrame(probability[j, : items.n_categories[j]].T, index=pd.Index(grid, name="theta"),
                               columns=list(items.categories[j]))
            for j, name in enumerate(items.names)}


def expected_score(parameters: pd.DataFrame | GRMResult, theta: Sequence[float] | np.ndarray | float,
                   *, categories: Mapping[str, Sequence[float]] | None = None,
                   first_category: float = 0) -> pd.DataFrame:
    """Expected answer E[X_j | theta] = sum_k value_k P(X_j = k | theta) per item, and the total.

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import expected_score
    >>> bank = pd.DataFrame({"a": [1.0], "b1": [0.0]}, index=["x"])
    >>> expected_score(bank, [0.0])["total"].tolist()
    [0.5]
    """
    items = graded_items(parameters, categories=categories, first_category=first_category)
    grid = _theta_grid(theta)
    probability = np.exp(_log_probabilities(items.slopes, items.intercepts, grid))
    table = {}
    for j, name in enumerate(items.names):
        values = np.asarray(items.categories[j])
        table[name] = values @ probability[j, : len(values)]
    out = pd.DataFrame(table, index=pd.Index(grid, name="theta"))
    out["total"] = out.sum(axis=1)
    return out


def item_information(parameters: pd.DataFrame | GRMResult, theta: Sequence[float] | np.ndarray | float,
                     ) -> pd.DataFrame:
    """Fisher information of each item over ``theta`` (theta x items).

    .. math:: I_j(\\theta) = \\sum_k \\frac{P'_{jk}(\\theta)^2}{P_{jk}(\\theta)}
              = a_j^2 \\sum_k \\frac{(W_{jk} - W_{j,k+1})^2}{P_{jk}}, \\qquad W = P^*(1 - P^*),

    (Samejima, 1969); for two categories it is the 2PL's ``a^2 P (1 - P)``.

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import item_information
    >>> bank = pd.DataFrame({"a": [2.0], "b1": [0.0]}, index=["x"])
    >>> float(item_information(bank, 0.0).iloc[0, 0])  # a^2 / 4
    1.0
    """
    items = graded_items(parameters)
    grid = _theta_grid(theta)
    return pd.DataFrame(_information(items.slopes, items.intercepts, grid).T,
                        index=pd.Index(grid, name="theta"), columns=list(items.names))


def test_information(parameters: pd.DataFrame | GRMResult, theta: Sequence[float] | np.ndarray | float,
                     ) -> pd.Series:
    """Test information: the sum of the item informations over ``theta``.

    The standard error of a maximum-likelihood theta is about ``1 / sqrt(information)``; an EAP
    score's posterior SD about ``1 / sqrt(information + 1)`` (the prior adds one).

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.irt import test_information
    >>> bank = pd.DataFrame({"a": [2.0, 2.0], "b1": [0.0, 0.0]}, index=["x", "y"])
    >>> test_information(bank, [0.0]).tolist()
    [2.0]
    """
    return item_information(parameters, theta).sum(axis=1).rename("information")


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
